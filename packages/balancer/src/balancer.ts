import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { debuglog } from 'node:util';
import { createAlgorithm, type Algorithm } from './algorithms/index.js';
import { startAttempt, type Attempt, type TryInit, type TryResult } from './attempt.js';
import { resolveBalancerOptions, type BalancerOptions, type ResolvedBalancerOptions } from './balancer-options.js';
import { Discovery } from './discovery.js';
import { parseDuration, type Duration } from './duration.js';
import type { Endpoint, EndpointStats } from './endpoint.js';
import { EndpointSet, type EndpointSetEvent } from './endpoint-set.js';
import { BalancerError, BalancerErrorCodes, NoEndpointError, refuse, RetryBudgetError, UpstreamError } from './errors.js';
import { HealthChecker } from './health-check.js';
import { collectMetrics, type MetricsOptions, type MetricsRegistry } from './metrics.js';
import { backoffDelay, RetryBudget, type RetryBudgetStats } from './retry-budget.js';

const debug = debuglog('scaleout:balancer');

/** RFC 9110 §9.2.2: methods whose repetition has the same effect as one call. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const FORWARDED_EVENTS: Array<EndpointSetEvent | 'panic' | 'discovery-error'> = ['add', 'remove', 'up', 'down', 'eject', 'uneject', 'drain', 'undrain', 'panic', 'discovery-error'];
const NO_STATUSES: ReadonlySet<number> = new Set();
const isFailureStatus = (status: number): boolean => status >= 500;

/** `fetch()`'s init: the standard `RequestInit` plus the balancer's own fields. */
export interface BalancerRequestInit extends RequestInit {
  /** Key for `ip-hash` (the end client's IP, a user id…). */
  hashKey?: string;
  /** The call may be retried or hedged even though its method is not idempotent. @default false */
  safe?: boolean;
  /** Per-try timeout for this call. @default the balancer's `timeout` */
  timeout?: Duration;
}

/** What one try reports on the 'attempt' event. */
export interface AttemptEvent {
  /** The endpoint's id. */
  endpoint: string;
  /** 0 for the first try, n for the n-th retry. */
  retry: number;
  /** True for a hedge (a try started while another was still running). */
  hedge: boolean;
  /** The response's status, when there is one. */
  status?: number;
  /** Why there is no response, when there is none. */
  failure?: TryResult['failure'];
  /** Time to the response headers, or to the failure. */
  latencyMs: number;
}

/** A plain, JSON-able view of the balancer. */
export interface BalancerStats {
  /** The balancer's `name`. */
  name: string;
  /** The algorithm's name. */
  algorithm: string;
  /** True while too few endpoints are available and every endpoint is a candidate. */
  panic: boolean;
  /** Calls made through `fetch()`. */
  requests: number;
  /** Retries made. */
  retries: number;
  /** Hedges started. */
  hedges: number;
  /** The retry budget's counters, or `null` when retries are off. */
  retryBudget: RetryBudgetStats | null;
  /** Each endpoint's view. */
  endpoints: EndpointStats[];
}

/**
 * A client-side load balancer: picks an endpoint per call with its algorithm, keeps the set healthy
 * (active checks, outlier ejection, discovery), and retries or hedges within a budget.
 * Events: 'attempt', 'retry', 'hedge', 'budget-exhausted', and the endpoint set's ('add', 'remove',
 * 'up', 'down', 'eject', 'uneject', 'drain', 'undrain', 'panic', 'discovery-error').
 */
export class Balancer extends EventEmitter {
  /** The live set of endpoints, with their health, ejection and draining state. */
  readonly endpoints: EndpointSet;
  /** The algorithm that picks an endpoint per try. */
  readonly algorithm: Algorithm;
  /** The validated options. */
  readonly options: ResolvedBalancerOptions;
  readonly #checker: HealthChecker | undefined;
  readonly #discovery: Discovery | undefined;
  readonly #budget: RetryBudget | undefined;
  readonly #active = new Set<Attempt>();
  readonly #closing = new AbortController();
  readonly #unregister: Array<() => void> = [];
  #ready: Promise<void>;
  #discovering: boolean;
  #requests = 0;
  #retries = 0;
  #hedges = 0;

  constructor(options: BalancerOptions) {
    super();
    this.options = resolveBalancerOptions(options);
    this.algorithm = createAlgorithm(this.options.algorithm);
    this.endpoints = new EndpointSet(options.endpoints ?? [], {
      panicThreshold: options.panicThreshold,
      outlier: options.outlier,
      slowStart: options.slowStart,
      ewmaDecay: options.ewmaDecay,
    });
    for (const event of FORWARDED_EVENTS) this.endpoints.on(event, (arg: unknown) => this.emit(event, arg));
    const retry = this.options.retry;
    if (retry) this.#budget = new RetryBudget(retry.budget, retry.minPerSecond, retry.windowMs);
    else if (this.options.hedgeDelayMs !== undefined) this.#budget = new RetryBudget(0.2, 10, 10_000);
    if (options.discovery !== undefined) this.#discovery = new Discovery(this.endpoints, options.discovery);
    if (options.healthCheck) this.#checker = new HealthChecker(this.endpoints, options.healthCheck);
    this.#checker?.start();
    this.#discovering = this.#discovery !== undefined;
    this.#ready = (this.#discovery?.start() ?? Promise.resolve()).finally(() => (this.#discovering = false));
  }

  /** Resolves once the first discovery lookup was applied (at once without discovery). */
  ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Sends a request to one endpoint: `path` (starting with '/') is appended to the endpoint's URL.
   * Idempotent methods (or `safe: true`) are retried on connection errors, per-try timeouts and
   * 502/503/504, on another endpoint when there is one, with jittered exponential backoff and
   * within the retry budget; a final 5xx answer is returned as is. Rejects with `NoEndpointError`,
   * `UpstreamError`, `RetryBudgetError`, or the caller's abort reason.
   */
  async fetch(path: string, init: BalancerRequestInit = {}): Promise<Response> {
    this.#assertOpen();
    if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//') || path.length > 8192 || /[\s\0]/.test(path)) {
      refuse('path', path, "give a path that starts with a single '/', without spaces, such as '/users/42'");
    }
    if (init === null || typeof init !== 'object') refuse('init', init, 'give a RequestInit object');
    const { hashKey, safe, timeout, signal, ...rest } = init;
    if (rest.method !== undefined && (typeof rest.method !== 'string' || !/^[A-Za-z]{1,32}$/.test(rest.method))) refuse('init.method', rest.method, 'give an HTTP method such as "GET"');
    if (hashKey !== undefined && (typeof hashKey !== 'string' || hashKey.length > 1024)) refuse('init.hashKey', hashKey, 'give a string of at most 1024 characters');
    const timeoutMs = timeout === undefined ? this.options.timeoutMs : parseDuration(timeout, 'init.timeout');
    signal?.throwIfAborted();
    if (this.#discovering) await this.#ready;

    const method = (rest.method ?? 'GET').toUpperCase();
    const streaming = isStream(rest.body);
    const replayable = (IDEMPOTENT.has(method) || safe === true) && !streaming;
    const tryInit: TryInit = streaming ? { ...rest, duplex: 'half' } : rest;
    const retry = this.options.retry;
    const retries = retry && replayable ? retry.attempts : 0;
    const statuses = retry?.statuses ?? NO_STATUSES;
    const hedgeDelay = replayable ? this.options.hedgeDelayMs : undefined;
    const run = (ep: Endpoint, n: number, hedge: boolean): Attempt => this.#start(ep, path, tryInit, timeoutMs, signal, n, hedge);

    this.#requests++;
    this.#budget?.deposit();
    const tried = new Set<string>();
    let last: TryResult | undefined;
    let budgetSpent = false;
    let tries = 0;
    for (let n = 0; n <= retries; n++) {
      if (n > 0) {
        if (!this.#budget!.tryWithdraw()) {
          budgetSpent = true;
          this.emit('budget-exhausted', { endpoint: last!.endpoint.id });
          break;
        }
        this.#retries++;
        this.emit('retry', { retry: n, endpoint: last!.endpoint.id, status: last!.response?.status, error: last!.error });
        await this.#pause(backoffDelay(n, retry!.backoffMs, retry!.maxBackoffMs), signal).catch((err: unknown) => {
          discard(last);
          throw err;
        });
      }
      const ep = this.#pick(hashKey, tried, last?.endpoint);
      if (!ep) {
        if (last) break;
        throw new NoEndpointError(`${this.options.name}: no endpoint is available (${this.endpoints.size} known)`);
      }
      tried.add(ep.id);
      tries++;
      const result = hedgeDelay === undefined ? await run(ep, n, false).result : await this.#hedged(run(ep, n, false), n, hashKey, tried, hedgeDelay, statuses, run);
      if (result.response && !statuses.has(result.response.status)) {
        discard(last);
        return result.response;
      }
      if (result.failure !== 'network' && !result.response) {
        discard(last);
        throw result.error; // the caller's abort, a closed balancer, or a request fetch refused
      }
      discard(last);
      last = result;
    }
    if (last!.response) return last!.response;
    throw budgetSpent ? new RetryBudgetError(last!.error) : new UpstreamError(tries, last!.error);
  }

  /** A plain, JSON-able view of the balancer and its endpoints. */
  stats(): BalancerStats {
    return {
      name: this.options.name,
      algorithm: this.algorithm.name,
      panic: this.endpoints.panic,
      requests: this.#requests,
      retries: this.#retries,
      hedges: this.#hedges,
      retryBudget: this.#budget?.stats() ?? null,
      endpoints: this.endpoints.all().map((ep) => ep.stats()),
    };
  }

  /**
   * Exposes the stats as Prometheus metrics in a prom-client `Registry` (prom-client's own counters
   * and gauges, read at scrape time). Several balancers may share a registry; they differ by the
   * `balancer` label, and a second balancer of the same name is refused.
   */
  collectMetrics(registry: MetricsRegistry, options?: MetricsOptions): void {
    this.#unregister.push(collectMetrics(registry, this, options));
  }

  /** Stops health checks, discovery and ejection timers, and cancels calls in flight. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort(new BalancerError(BalancerErrorCodes.CLOSED, `${this.options.name}: the balancer is closed`));
    for (const a of this.#active) a.cancel(this.#closing.signal.reason);
    await this.#discovery?.close();
    for (const off of this.#unregister.splice(0)) off();
    await this.#checker?.close();
    await this.endpoints.close();
    debug('%s closed', this.options.name);
  }

  /** Closes the balancer, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #assertOpen(): void {
    if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
  }

  /** Avoids every endpoint already tried; when that leaves none, avoids at least the one that just failed. */
  #pick(hashKey: string | undefined, tried: Set<string>, lastEp: Endpoint | undefined, candidates = this.endpoints.candidates()): Endpoint | undefined {
    let exclude: ReadonlySet<string> | undefined = tried.size ? tried : undefined;
    if (exclude && lastEp && candidates.every((ep) => tried.has(ep.id))) exclude = new Set([lastEp.id]);
    return this.algorithm.pick(candidates, { hashKey, exclude });
  }

  #start(ep: Endpoint, path: string, init: TryInit, timeoutMs: number, signal: AbortSignal | null | undefined, n: number, hedge: boolean): Attempt {
    const attempt = startAttempt(ep, ep.target(path), init, timeoutMs, signal ?? undefined, isFailureStatus);
    this.#active.add(attempt);
    void attempt.result.then((r) => {
      this.#active.delete(attempt);
      if (this.listenerCount('attempt') > 0) {
        const event: AttemptEvent = { endpoint: ep.id, retry: n, hedge, status: r.response?.status, failure: r.failure, latencyMs: r.latencyMs };
        this.emit('attempt', event);
      }
    });
    return attempt;
  }

  /**
   * Races `first` against a hedge sent to another endpoint after `delay` (budget permitting). The
   * first good answer wins and the other try is cancelled; if both fail, the last failure is returned.
   */
  #hedged(first: Attempt, n: number, hashKey: string | undefined, tried: Set<string>, delay: number, statuses: ReadonlySet<number>, run: (ep: Endpoint, n: number, hedge: boolean) => Attempt): Promise<TryResult> {
    return new Promise<TryResult>((resolve) => {
      const running = new Set<Attempt>();
      let settled = false;
      let failed: TryResult | undefined;
      const finish = (r: TryResult): void => {
        settled = true;
        clearTimeout(timer);
        for (const a of running) a.cancel();
        resolve(r);
      };
      const watch = (a: Attempt): void => {
        running.add(a);
        void a.result.then((r) => {
          running.delete(a);
          if (settled) return discard(r);
          const good = r.response !== undefined && !statuses.has(r.response.status);
          if (good || r.failure !== 'network' && !r.response) return finish(r);
          discard(failed);
          failed = r;
          if (running.size === 0) finish(r);
        });
      };
      const timer = setTimeout(() => {
        if (settled) return;
        const ep = this.#pick(hashKey, tried, undefined);
        if (!ep || tried.has(ep.id) || !this.#budget!.tryWithdraw()) return;
        tried.add(ep.id);
        this.#hedges++;
        this.emit('hedge', { endpoint: ep.id, after: first.endpoint.id });
        watch(run(ep, n, true));
      }, delay);
      watch(first);
    });
  }

  async #pause(ms: number, signal: AbortSignal | null | undefined): Promise<void> {
    if (ms <= 0) return;
    const signals = signal ? [signal, this.#closing.signal] : [this.#closing.signal];
    try {
      await sleep(ms, undefined, { signal: AbortSignal.any(signals) });
    } catch {
      signal?.throwIfAborted();
      this.#assertOpen();
    }
  }
}

/** Creates a balancer; see `BalancerOptions`. Throws a `BalancerConfigError` naming any bad field. */
export function createBalancer(options: BalancerOptions): Balancer {
  return new Balancer(options);
}

function discard(r: TryResult | undefined): void {
  void r?.response?.body?.cancel().catch(() => {});
}

function isStream(body: unknown): boolean {
  return body !== null && typeof body === 'object' && (typeof (body as ReadableStream).getReader === 'function' || Symbol.asyncIterator in body);
}
