import type { Registry } from 'prom-client';
import { InvalidArgumentError } from '../errors.js';
import { MemoryStore } from '../memory-store.js';
import type { SessionStore, Strategy } from '../types.js';
import type { SessionObserver, SessionOutcome } from '../engine/session-observer.js';
import { MetricScope } from './metric-scope.js';
import { LATENCY_BUCKETS, storeMetrics, type StoreMetrics } from './store-metrics.js';

const OUTCOMES: readonly SessionOutcome[] = ['loaded', 'new', 'saved', 'unchanged', '503_unavailable', '503_timeout', 'lock_timeout', 'abandoned'];

/** Options of core's {@link metrics}. */
export interface MetricsOptions {
  /** The strategy whose session layer (Express or Koa, either binding) is measured. */
  strategy: Strategy;
  /** The `node` label. @default the strategy's `nodeId` */
  node?: string;
  /** Histogram buckets, in seconds. @default {@link LATENCY_BUCKETS} */
  buckets?: number[];
}

/** The registered metrics; `close()` detaches them (the series fed so far stay until the registry is cleared). */
export interface ScaleoutMetrics {
  /** Detaches the metrics; safe to call twice. */
  close(): void;
}

/**
 * Registers the session layer's metrics (`scaleout_session_*`) of a strategy on `registry`, and
 * the `scaleout_store_*` metrics of its store when that is the memory store (the other stores'
 * packages export their own `metrics()`). Several nodes may share one registry, each with its
 * own `node` label; a second call for the same node throws `ERR_SCALEOUT_METRICS_REGISTERED`.
 */
export function metrics(registry: Registry, options: MetricsOptions): ScaleoutMetrics {
  const strategy = options?.strategy;
  if (strategy === null || typeof strategy !== 'object' || !strategy.store) throw new InvalidArgumentError('strategy', 'metrics(registry, { strategy }): expected the strategy made by createStrategy()');
  if (strategy.observer) throw new InvalidArgumentError('strategy', 'metrics(): this strategy already has an observer (metrics() was called for it on another registry)');
  const scope = new MetricScope(registry, 'session', options.node ?? strategy.nodeId);
  let store: StoreMetrics | undefined;
  try {
    if (strategy.store instanceof MemoryStore) store = memoryStoreMetrics(registry, strategy.store, scope.instance, options.buckets);
  } catch (err) {
    scope.close();
    throw err;
  }
  const observer = sessionObserver(scope, options.buckets ?? LATENCY_BUCKETS);
  strategy.observer = observer;
  return {
    close() {
      if (strategy.observer === observer) delete strategy.observer;
      store?.close();
      scope.close();
    },
  };
}

/** The memory store's `scaleout_store_*` metrics (sessions included: counting them is free). */
export function memoryStoreMetrics(registry: Registry, store: SessionStore, node: string, buckets?: number[]): StoreMetrics {
  return storeMetrics(registry, store, { type: 'memory', node, sessions: true, ...(buckets && { buckets }) });
}

function sessionObserver(scope: MetricScope, buckets: number[]): SessionObserver {
  const requests = scope.counter({
    name: 'scaleout_session_requests_total',
    help: 'Session steps of requests by outcome: loaded or new when opened; saved, unchanged or abandoned when answered; 503_unavailable, 503_timeout or lock_timeout when refused.',
    labelNames: ['outcome'],
  });
  const load = scope.histogram({ name: 'scaleout_session_load_duration_seconds', help: "Time to load a request's session from the store (lock wait excluded).", buckets });
  const save = scope.histogram({ name: 'scaleout_session_save_duration_seconds', help: "Time to save, or destroy, a request's session before its response goes out.", buckets });
  const lockWait = scope.histogram({ name: 'scaleout_session_lock_wait_seconds', help: 'Time a request waited for its session lock (got or timed out).', buckets });
  // Every outcome from zero, so a rate() over it starts at the first scrape, not the first event.
  const series = new Map(OUTCOMES.map((outcome) => [outcome, requests.series({ outcome })]));
  const loadSeries = load.series();
  const saveSeries = save.series();
  const lockSeries = lockWait.series();
  return {
    outcome: (outcome) => series.get(outcome)!.inc(),
    load: (seconds) => loadSeries.observe(seconds),
    save: (seconds) => saveSeries.observe(seconds),
    lockWait: (seconds) => lockSeries.observe(seconds),
  };
}
