import type { Endpoint } from '../endpoint.js';
import { sameList } from './algorithm.js';

/**
 * The effective weights of one candidate list, read once per list instead of once per pick (a
 * getter call per endpoint per pick is most of an O(n) pick). While a slow start runs in the list
 * they are re-read on each pick; slow starts only begin when the list changes (an endpoint added,
 * back up or back from ejection), so checking at list changes is enough.
 */
export class WeightCache {
  list: readonly Endpoint[] = [];
  weights = new Float64Array(0);
  inverse = new Float64Array(0);
  /** Bumped whenever the weights change, so users can rebuild what they derive from them. */
  version = 0;
  #rampUntil = 0;
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** True while an endpoint of the list is in slow start (weights change with time). */
  get ramping(): boolean {
    return this.#rampUntil !== 0;
  }

  /** Makes the cache describe `candidates`, now. */
  update(candidates: readonly Endpoint[]): void {
    if (candidates !== this.list) {
      const same = sameList(this.list, candidates);
      this.list = candidates;
      if (!same) {
        this.#rampUntil = 0;
        for (const ep of candidates) this.#rampUntil = Math.max(this.#rampUntil, ep.slowStartUntil);
        this.#read();
        return;
      }
    }
    if (this.#rampUntil !== 0) {
      if (this.#now() >= this.#rampUntil) this.#rampUntil = 0;
      this.#read();
    }
  }

  #read(): void {
    const list = this.list;
    if (this.weights.length !== list.length) {
      this.weights = new Float64Array(list.length);
      this.inverse = new Float64Array(list.length);
    }
    for (let i = 0; i < list.length; i++) {
      const w = list[i]!.effectiveWeight;
      this.weights[i] = w;
      this.inverse[i] = 1 / w;
    }
    this.version++;
  }
}
