import type { Endpoint } from '../endpoint.js';
import { Algorithm, type PickContext } from './algorithm.js';

/**
 * Plain round robin, weights ignored. It starts at a random index (as grpc-js's round_robin does)
 * so that many clients started together do not all hit the first endpoint first.
 */
export class RoundRobin extends Algorithm {
  /** The algorithm's name, as options and stats give it. */
  readonly name = 'round-robin' as const;
  #next = -1;

  pick(candidates: readonly Endpoint[], ctx?: PickContext): Endpoint | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    if (this.#next < 0) this.#next = Math.floor(this.random() * n);
    const ex = this.exclusion(candidates, ctx);
    for (let k = 0; k < n; k++) {
      const i = (this.#next + k) % n;
      const ep = candidates[i]!;
      if (ex !== undefined && ex.has(ep.id)) continue;
      this.#next = (i + 1) % n;
      return ep;
    }
    return undefined;
  }
}
