import type { Endpoint } from '../endpoint.js';
import { Algorithm, type PickContext } from './algorithm.js';

/**
 * Fewest in-flight requests per unit of weight: the score is (inFlight + 1) / weight, as Envoy's
 * weighted least-request with bias 1, so weights matter even when everyone is idle. Ties are broken
 * uniformly at random so that idle endpoints share the first requests.
 */
export class LeastConnections extends Algorithm {
  readonly name = 'least-connections' as const;
  #ties: number[] = [];

  pick(candidates: readonly Endpoint[], ctx?: PickContext): Endpoint | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    const ex = this.exclusion(candidates, ctx);
    const ties = this.#ties;
    let count = 0;
    let best = Infinity;
    for (let i = 0; i < n; i++) {
      const ep = candidates[i]!;
      if (ex !== undefined && ex.has(ep.id)) continue;
      const score = (ep.inFlight + 1) / ep.effectiveWeight;
      if (score < best) {
        best = score;
        ties[0] = i;
        count = 1;
      } else if (score === best) {
        ties[count++] = i;
      }
    }
    if (count === 0) return undefined;
    return candidates[count === 1 ? ties[0]! : ties[Math.floor(this.random() * count)]!];
  }
}
