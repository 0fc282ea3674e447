import type { Endpoint } from '../endpoint.js';
import { Algorithm, type PickContext } from './algorithm.js';

/** Cost of an endpoint with no latency history and a request already in flight (Finagle's `Penalty`). */
export const NO_HISTORY_PENALTY = 1e9;

/**
 * Peak EWMA with power of two choices (Finagle's and Linkerd's balancer): draw two distinct
 * candidates at random, keep the cheaper, where cost = peak-EWMA latency × (in-flight + 1) / weight.
 * An endpoint with no history costs 0 while idle, so it gets one probe at once, and a large
 * penalty while that probe is in flight, so a new endpoint is not flooded before it has answered.
 */
export class LeastResponseTime extends Algorithm {
  /** The algorithm's name, as options and stats give it. */
  readonly name = 'least-response-time' as const;

  pick(candidates: readonly Endpoint[], ctx?: PickContext): Endpoint | undefined {
    const ex = this.exclusion(candidates, ctx);
    const list = ex === undefined ? candidates : candidates.filter((ep) => !ex.has(ep.id));
    const n = list.length;
    if (n <= 1) return list[0];
    const i = Math.floor(this.random() * n);
    let j = Math.floor(this.random() * (n - 1));
    if (j >= i) j++;
    const a = list[i]!;
    const b = list[j]!;
    const now = this.now();
    return cost(b, now) < cost(a, now) ? b : a;
  }
}

/** The load-aware cost least-response-time compares. */
export function cost(ep: Endpoint, now = Date.now()): number {
  const ewma = ep.latencyEwma(now);
  if (ewma === undefined) return ep.inFlight === 0 ? 0 : NO_HISTORY_PENALTY + ep.inFlight;
  return (ewma * (ep.inFlight + 1)) / ep.effectiveWeight;
}
