import type { Endpoint } from '../endpoint.js';
import { LEAST_LOADED, type TaggedCandidates } from '../endpoint-set.js';
import { Algorithm, type PickContext } from './algorithm.js';
import { WeightCache } from './weights.js';

/**
 * Fewest in-flight requests per unit of weight: the score is (inFlight + 1) / weight, as Envoy's
 * weighted least-request with bias 1, so weights matter even when everyone is idle. Ties are broken
 * at random so that idle endpoints share the first requests.
 *
 * On a set's own candidate array the minimum comes from the set's load index (a heap kept up to
 * date as calls begin and end; equal scores in random order). Any other array, an exclusion, or a
 * slow start running falls back to a scan, with ties drawn uniformly at random.
 */
export class LeastConnections extends Algorithm {
  /** The algorithm's name, as options and stats give it. */
  readonly name = 'least-connections' as const;
  readonly #weights = new WeightCache(this.now);
  #ties: number[] = [];

  pick(candidates: readonly Endpoint[], ctx?: PickContext): Endpoint | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    const ex = this.exclusion(candidates, ctx);
    if (ex === undefined) {
      const indexed = (candidates as TaggedCandidates)[LEAST_LOADED]?.();
      if (indexed !== undefined) return indexed;
    }
    this.#weights.update(candidates);
    const inverse = this.#weights.inverse;
    const ties = this.#ties;
    let count = 0;
    let best = Infinity;
    for (let i = 0; i < n; i++) {
      const score = (candidates[i]!.inFlight + 1) * inverse[i]!;
      if (score > best) continue;
      if (ex !== undefined && ex.has(candidates[i]!.id)) continue;
      if (score < best) {
        best = score;
        ties[0] = i;
        count = 1;
      } else {
        ties[count++] = i;
      }
    }
    if (count === 0) return undefined;
    return candidates[count === 1 ? ties[0]! : ties[Math.floor(this.random() * count)]!];
  }
}
