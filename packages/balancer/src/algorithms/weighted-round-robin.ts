import type { Endpoint } from '../endpoint.js';
import { Algorithm, type PickContext } from './algorithm.js';
import { WeightCache } from './weights.js';

/** Longest cycle worth precomputing, and the most work (endpoints × cycle) a precomputation may take. */
const MAX_CYCLE = 65_536;
const MAX_BUILD_STEPS = 4_000_000;

/**
 * Smooth weighted round robin, nginx's rule: on each pick every endpoint adds its weight to its
 * current weight, the largest wins and gives back the total. Weights {5,1,1} give
 * `a a b a c a a`: the heavy endpoint's turns are spread out instead of sent in a burst.
 *
 * With whole-number weights the order repeats every Σweight/gcd picks, so that cycle is computed
 * once per candidate list and a pick is one array read. Fractional or huge weights, and a list
 * with an endpoint in slow start, run nginx's loop on every pick instead.
 */
export class WeightedRoundRobin extends Algorithm {
  /** The algorithm's name, as options and stats give it. */
  readonly name = 'weighted-round-robin' as const;
  readonly #weights = new WeightCache(this.now);
  #version = -1;
  #cycle: Int32Array | undefined;
  #pos = 0;
  #current = new Float64Array(0);

  pick(candidates: readonly Endpoint[], ctx?: PickContext): Endpoint | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    const cache = this.#weights;
    cache.update(candidates);
    if (cache.version !== this.#version) this.#rebuild();
    const ex = this.exclusion(candidates, ctx);
    const cycle = this.#cycle;
    if (cycle === undefined) return candidates[this.#step(cache.weights, ex)];
    let pos = this.#pos;
    // with an exclusion, the turns of skipped endpoints are used up, so the others keep their order
    for (let k = 0; k < cycle.length; k++) {
      const ep = candidates[cycle[pos]!]!;
      if (++pos === cycle.length) pos = 0;
      if (ex === undefined || !ex.has(ep.id)) {
        this.#pos = pos;
        return ep;
      }
    }
    return undefined;
  }

  /** One step of nginx's rule over `weights`, skipping excluded endpoints; returns the winner's index. */
  #step(weights: Float64Array, ex: ReadonlySet<string> | undefined): number {
    const current = this.#current;
    const list = this.#weights.list;
    let total = 0;
    let best = -1;
    let bestValue = -Infinity;
    for (let i = 0; i < weights.length; i++) {
      if (ex !== undefined && ex.has(list[i]!.id)) continue;
      const w = weights[i]!;
      const c = current[i]! + w;
      current[i] = c;
      total += w;
      if (c > bestValue) {
        bestValue = c;
        best = i;
      }
    }
    current[best] = bestValue - total;
    return best;
  }

  #rebuild(): void {
    const cache = this.#weights;
    this.#version = cache.version;
    const n = cache.list.length;
    if (this.#current.length !== n) this.#current = new Float64Array(n);
    this.#cycle = undefined;
    this.#pos = 0;
    if (cache.ramping) return;
    let g = 0;
    for (const w of cache.weights) {
      if (!Number.isInteger(w)) return;
      g = gcd(g, w);
    }
    let length = 0;
    for (const w of cache.weights) length += w / g;
    if (length > MAX_CYCLE || length * n > MAX_BUILD_STEPS) return;
    const reduced = cache.weights.map((w) => w / g);
    this.#current.fill(0);
    const cycle = new Int32Array(length);
    for (let t = 0; t < length; t++) cycle[t] = this.#step(reduced, undefined);
    this.#current.fill(0);
    this.#cycle = cycle;
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
