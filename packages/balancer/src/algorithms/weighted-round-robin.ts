import type { Endpoint } from '../endpoint.js';
import { Algorithm, sameList, type PickContext } from './algorithm.js';

/**
 * Smooth weighted round robin, nginx's rule: on each pick every endpoint adds its weight to its
 * current weight, the largest wins and gives back the total. Weights {5,1,1} give
 * `a a b a c a a`: the heavy endpoint's turns are spread out instead of sent in a burst.
 * Slow start lowers an endpoint's weight while it ramps up.
 */
export class WeightedRoundRobin extends Algorithm {
  readonly name = 'weighted-round-robin' as const;
  #list: readonly Endpoint[] = [];
  #current = new Float64Array(0);

  pick(candidates: readonly Endpoint[], ctx?: PickContext): Endpoint | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    if (candidates !== this.#list) this.#sync(candidates);
    const ex = this.exclusion(candidates, ctx);
    const current = this.#current;
    let total = 0;
    let best = -1;
    let bestValue = -Infinity;
    for (let i = 0; i < n; i++) {
      const ep = candidates[i]!;
      if (ex !== undefined && ex.has(ep.id)) continue;
      const w = ep.effectiveWeight;
      const c = current[i]! + w;
      current[i] = c;
      total += w;
      if (c > bestValue) {
        bestValue = c;
        best = i;
      }
    }
    current[best] = bestValue - total;
    return candidates[best];
  }

  /** Keeps each endpoint's current weight when the candidate list changes (a health flap must not reset the cycle). */
  #sync(candidates: readonly Endpoint[]): void {
    const old = this.#list;
    if (!sameList(old, candidates)) {
      const prev = new Map<Endpoint, number>();
      old.forEach((ep, i) => prev.set(ep, this.#current[i]!));
      this.#current = Float64Array.from(candidates, (ep) => prev.get(ep) ?? 0);
    }
    this.#list = candidates;
  }
}
