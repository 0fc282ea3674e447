import type { Endpoint } from '../endpoint.js';

/** The algorithms a balancer or proxy is configured with, by name. */
export type AlgorithmName = 'round-robin' | 'weighted-round-robin' | 'ip-hash' | 'least-connections' | 'least-response-time';

/** What a caller may tell `pick()` about one request. */
export interface PickContext {
  /** Key for `ip-hash` (the client IP in the proxy, any string in `fetch()`). Other algorithms ignore it. */
  hashKey?: string;
  /** Endpoint ids to avoid (the ones a retry already tried). Ignored when it would leave nothing. */
  exclude?: ReadonlySet<string>;
}

/** Options every algorithm accepts. */
export interface AlgorithmOptions {
  /** Source of randomness in [0, 1): seeded in tests for exact orders. @default Math.random */
  random?: () => number;
  /** Clock in ms for latency decay (a simulation runs on virtual time). @default Date.now */
  now?: () => number;
}

/**
 * The shared base: an algorithm only chooses. The endpoint set decides who is a candidate
 * (health, ejection, draining, panic), and `Endpoint.begin()` accounts the load.
 */
export abstract class Algorithm {
  /** The algorithm's name, as options and stats give it. */
  abstract readonly name: AlgorithmName;
  /** Source of randomness in [0, 1). */
  protected readonly random: () => number;
  /** Clock in ms. */
  protected readonly now: () => number;

  constructor(options: AlgorithmOptions = {}) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  /** Chooses one of `candidates`, or `undefined` when there is none. Never mutates the array. */
  abstract pick(candidates: readonly Endpoint[], ctx?: PickContext): Endpoint | undefined;

  /**
   * The exclusion set when it can matter, else `undefined` (the fast path). When it would exclude
   * every candidate it is dropped: a retry on the same endpoint beats no retry.
   */
  protected exclusion(candidates: readonly Endpoint[], ctx: PickContext | undefined): ReadonlySet<string> | undefined {
    const ex = ctx?.exclude;
    if (ex === undefined || ex.size === 0) return undefined;
    for (let i = 0; i < candidates.length; i++) if (!ex.has(candidates[i]!.id)) return ex;
    return undefined;
  }
}

/** True when two candidate lists hold the same endpoints in the same order (cheap when it is one array). */
export function sameList(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
