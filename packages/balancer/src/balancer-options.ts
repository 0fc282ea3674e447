import { ALGORITHMS, type AlgorithmName } from './algorithms/index.js';
import { withDefaults } from './defaults.js';
import { parseDuration, type Duration } from './duration.js';
import type { EndpointOptions } from './endpoint.js';
import { refuse } from './errors.js';
import type { HealthCheckOptions } from './health-check.js';
import type { OutlierOptions } from './outlier-detector.js';
import type { DiscoveryOptions } from './discovery.js';

/** Retries: which failures, how many, how spaced, and how much extra load they may add. */
export interface RetryOptions {
  /** Retries after the first try; 0 turns retries off. @default 2 */
  attempts?: number;
  /** Retries and hedges may add at most this share of the requests (Finagle's percentCanRetry). @default 0.2 */
  budget?: number;
  /** Floor of the budget in retries per second, so a quiet client can still retry (Finagle's minRetriesPerSec). @default 10 */
  minPerSecond?: number;
  /** The window the budget counts over. @default '10s' */
  window?: Duration;
  /** First backoff ceiling; each retry doubles it, with full jitter. @default '25ms' */
  backoff?: Duration;
  /** Cap on the backoff ceiling. @default '250ms' */
  maxBackoff?: Duration;
  /** Response statuses that are retried (connection errors and per-try timeouts always are). @default [502, 503, 504] */
  statuses?: number[];
}

/** Hedging (backup requests, as gRPC's hedgingPolicy and Finagle's): idempotent or `safe` calls only. */
export interface HedgeOptions {
  /** Send a second try to another endpoint when the first has not answered within this. */
  delay: Duration;
}

/** Options of `createBalancer()`. */
export interface BalancerOptions {
  /** The endpoints; required (non-empty) unless `discovery` is given. */
  endpoints?: Array<string | EndpointOptions>;
  /** Where the endpoint list comes from at run time: a function polled on an interval, or DNS A/SRV records. */
  discovery?: DiscoveryOptions;
  /** One of `ALGORITHMS`. @default 'least-response-time' */
  algorithm?: AlgorithmName;
  /** Name used in metrics labels and debug output. @default 'balancer' */
  name?: string;
  /** Active health checks; `false` or absent: none. @default false */
  healthCheck?: HealthCheckOptions | false;
  /** Passive outlier ejection; `false` turns it off. @default Envoy's: 5 failures, 30 s, 300 s cap, 10% */
  outlier?: OutlierOptions | false;
  /** Below this available share, use every endpoint. @default 0.5 */
  panicThreshold?: number;
  /** Weight ramp for new and recovered endpoints. @default 0 (off) */
  slowStart?: Duration;
  /** Time constant of the latency peak EWMA. @default '10s' */
  ewmaDecay?: Duration;
  /** Per-try timeout, until the response headers. @default '10s' */
  timeout?: Duration;
  /** Retries; `false` turns them off. @default { attempts: 2, budget: 0.2, minPerSecond: 10 } */
  retry?: RetryOptions | false;
  /** Hedging; `false` or absent: none. @default false */
  hedge?: HedgeOptions | false;
}

/** Defaults of {@link RetryOptions}. */
export const DEFAULT_RETRY: Required<RetryOptions> = {
  attempts: 2,
  budget: 0.2,
  minPerSecond: 10,
  window: '10s',
  backoff: '25ms',
  maxBackoff: '250ms',
  statuses: [502, 503, 504],
};

/** Defaults of {@link BalancerOptions}. */
export const DEFAULT_BALANCER = {
  /** Least response time (peak EWMA of each endpoint's latency, weighted by its calls in progress). */
  algorithm: 'least-response-time' as AlgorithmName,
  /** The name in stats, events and metric labels. */
  name: 'balancer',
  /** Per-try timeout. */
  timeout: '10s' as Duration,
};

/** Validated retry settings in milliseconds. */
export interface ResolvedRetry {
  attempts: number;
  budget: number;
  minPerSecond: number;
  windowMs: number;
  backoffMs: number;
  maxBackoffMs: number;
  statuses: ReadonlySet<number>;
}

/** Validated balancer settings (what the set, checker and discovery take is validated by them). */
export interface ResolvedBalancerOptions {
  algorithm: AlgorithmName;
  name: string;
  timeoutMs: number;
  retry: ResolvedRetry | undefined;
  hedgeDelayMs: number | undefined;
}

const isObject = (v: unknown): v is object => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Checks the options, throwing a coded error naming the first bad field. */
export function resolveBalancerOptions(options: BalancerOptions): ResolvedBalancerOptions {
  if (!isObject(options)) refuse('options', options, 'give an object such as { endpoints: ["http://127.0.0.1:3001"] }');
  const { endpoints, discovery } = options;
  if (discovery === undefined) {
    if (!Array.isArray(endpoints)) refuse('endpoints', endpoints, 'give a non-empty array of URLs or { url, id?, weight? }, or a discovery source');
    if (endpoints.length === 0) refuse('endpoints', endpoints, 'give at least one endpoint, or a discovery source');
  } else if (endpoints !== undefined && !Array.isArray(endpoints)) {
    refuse('endpoints', endpoints, 'give an array of URLs or { url, id?, weight? }');
  }
  const algorithm = options.algorithm ?? DEFAULT_BALANCER.algorithm;
  if (!ALGORITHMS.includes(algorithm)) refuse('algorithm', algorithm, `use one of ${ALGORITHMS.join(', ')}`);
  const name = options.name ?? DEFAULT_BALANCER.name;
  if (typeof name !== 'string' || !/^[\w.-]{1,64}$/.test(name)) refuse('name', name, 'give 1 to 64 letters, digits, ".", "_" or "-"');
  const timeoutMs = parseDuration(options.timeout ?? DEFAULT_BALANCER.timeout, 'timeout');
  if (timeoutMs < 1) refuse('timeout', options.timeout, 'give at least 1 ms');
  if (options.healthCheck !== undefined && options.healthCheck !== false && !isObject(options.healthCheck)) {
    refuse('healthCheck', options.healthCheck, 'give an object such as { path: "/healthz", interval: "5s" } or false');
  }
  return { algorithm, name, timeoutMs, retry: resolveRetry(options.retry), hedgeDelayMs: resolveHedge(options.hedge) };
}

function resolveRetry(retry: RetryOptions | false | undefined): ResolvedRetry | undefined {
  if (retry === false) return undefined;
  if (retry !== undefined && !isObject(retry)) refuse('retry', retry, 'give an object such as { attempts: 2, budget: 0.2 } or false');
  const r = withDefaults(DEFAULT_RETRY, retry);
  if (!Number.isInteger(r.attempts) || r.attempts < 0 || r.attempts > 10) refuse('retry.attempts', r.attempts, 'give a whole number from 0 to 10');
  if (typeof r.budget !== 'number' || !(r.budget >= 0 && r.budget <= 1)) refuse('retry.budget', r.budget, 'give a share from 0 to 1, such as 0.2');
  if (typeof r.minPerSecond !== 'number' || !(r.minPerSecond >= 0 && r.minPerSecond <= 1e6)) refuse('retry.minPerSecond', r.minPerSecond, 'give a number from 0 to 1000000');
  if (!Array.isArray(r.statuses) || r.statuses.length > 100 || !r.statuses.every((s) => Number.isInteger(s) && s >= 100 && s <= 599)) {
    refuse('retry.statuses', r.statuses, 'give an array of HTTP statuses such as [502, 503, 504]');
  }
  const windowMs = parseDuration(r.window, 'retry.window');
  if (windowMs < 10) refuse('retry.window', r.window, 'give at least 10 ms');
  const backoffMs = parseDuration(r.backoff, 'retry.backoff');
  const maxBackoffMs = parseDuration(r.maxBackoff, 'retry.maxBackoff');
  if (maxBackoffMs < backoffMs) refuse('retry.maxBackoff', r.maxBackoff, 'give at least retry.backoff');
  return { attempts: r.attempts, budget: r.budget, minPerSecond: r.minPerSecond, windowMs, backoffMs, maxBackoffMs, statuses: new Set(r.statuses) };
}

function resolveHedge(hedge: HedgeOptions | false | undefined): number | undefined {
  if (hedge === undefined || hedge === false) return undefined;
  if (!isObject(hedge)) refuse('hedge', hedge, 'give { delay: "50ms" } or false');
  const ms = parseDuration(hedge.delay, 'hedge.delay');
  if (ms < 1) refuse('hedge.delay', hedge.delay, 'give at least 1 ms');
  return ms;
}
