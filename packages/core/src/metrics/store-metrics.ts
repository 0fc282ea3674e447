import type { Registry } from 'prom-client';
import type { SessionStore, SyncSessionOps } from '../types.js';
import { InvalidArgumentError } from '../errors.js';
import { MetricScope, secondsSince } from './metric-scope.js';


/** Buckets of the store and session histograms, in seconds: 100 µs (memory) to 5 s (a store timeout). */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const OPS = ['get', 'set', 'patch', 'touch', 'destroy'] as const;

/** Options of {@link storeMetrics}. */
export interface StoreMetricsOptions {
  /** The `store` label: the backend's type (`memory`, `redis`, `hazelcast`, `cluster`). */
  type: string;
  /** The `node` label that tells this store's series from other instances' on the registry. */
  node: string;
  /**
   * Report `scaleout_store_sessions` from `store.size()` at each scrape. Cheap for in-process
   * stores; a round trip (or a scan) for a remote one.
   * @default false
   */
  sessions?: boolean;
  /** Histogram buckets, in seconds. @default {@link LATENCY_BUCKETS} */
  buckets?: number[];
}

/** What {@link storeMetrics} returns: `close()` restores the store's methods and frees the registry claim. */
export interface StoreMetrics {
  /** Restores the store's methods and frees the registry claim; safe to call twice. */
  close(): void;
}

/**
 * The `scaleout_store_*` metrics of one store, on any backend: each operation is timed and its
 * failures counted by wrapping the store instance's methods from outside (the class is not
 * touched), `up` follows `available`, invalid values are counted from the `invalid` event.
 */
export function storeMetrics(registry: Registry, store: SessionStore, options: StoreMetricsOptions): StoreMetrics {
  const scope = new MetricScope(registry, 'store', options.node);
  const duration = scope.histogram({
    name: 'scaleout_store_operation_duration_seconds',
    help: 'Time a store operation took, success or not, by operation (get, set, patch, touch, destroy).',
    labelNames: ['store', 'op'],
    buckets: options.buckets ?? LATENCY_BUCKETS,
  });
  const errors = scope.counter({ name: 'scaleout_store_errors_total', help: 'Store operations that failed, by operation and error code.', labelNames: ['store', 'op', 'code'] });
  const invalid = scope.counter({ name: 'scaleout_store_invalid_values_total', help: 'Stored values that were not a session (unreadable JSON, not an object): read as no session.', labelNames: ['store'] });
  scope.collected('gauge', { name: 'scaleout_store_up', help: '1 while the store is reachable, 0 between its down and up events.', labelNames: ['store'] }, (set) => set({ store: options.type }, store.available === false ? 0 : 1));
  if (options.sessions) {
    scope.collected('gauge', { name: 'scaleout_store_sessions', help: 'Live sessions in the store, as this node sees it.', labelNames: ['store'] }, async (set) => {
      // A scrape must not fail while the store is down: the series is left out until it is back.
      const n = await store.size().catch(() => undefined);
      if (n !== undefined) set({ store: options.type }, n);
    });
  }
  const invalidSeries = invalid.series({ store: options.type });
  const onInvalid = () => invalidSeries.inc();
  store.on('invalid', onInvalid);

  const target = store as unknown as Record<string, unknown>;
  // An in-process store (`local`) does an operation's work within the call: it is timed from the
  // call to its return, and the caller gets the store's own promise, with no step added before
  // it settles (a failure is still counted from it). A remote store's operation ends when its
  // promise settles.
  const local = store.local === true;
  // The store's synchronous operations (read before its methods are wrapped, which turns them off).
  const sync = local ? store.sync : undefined;
  const timedSync: Partial<Record<keyof SyncSessionOps, (...args: never[]) => unknown>> = {};
  const wrapped = new Map<string, unknown>();
  const restore: Array<() => void> = [];
  for (const op of OPS) {
    const original = target[op];
    if (typeof original !== 'function') continue;
    const own = Object.prototype.hasOwnProperty.call(target, op);
    const series = duration.series({ store: options.type, op });
    const countFailure = (err: unknown) => {
      const code = (err as { code?: unknown } | null)?.code;
      errors.inc({ store: options.type, op, code: typeof code === 'string' ? code : 'unknown' });
    };
    if (sync) {
      const at = sync[op] as (...args: unknown[]) => unknown;
      timedSync[op] = (...args: unknown[]) => {
        const start = performance.now();
        try {
          return at(...args);
        } catch (err) {
          countFailure(err);
          throw err;
        } finally {
          series.observe(secondsSince(start));
        }
      };
    }
    target[op] = local
      ? function timed(this: unknown, ...args: unknown[]) {
          const start = performance.now();
          const p = original.apply(this, args) as Promise<unknown>;
          series.observe(secondsSince(start));
          p.then(undefined, countFailure);
          return p;
        }
      : function timed(this: unknown, ...args: unknown[]) {
          const start = performance.now();
          return (original.apply(this, args) as Promise<unknown>).then(
            (v) => {
              series.observe(secondsSince(start));
              return v;
            },
            (err: unknown) => {
              series.observe(secondsSince(start));
              countFailure(err);
              throw err;
            },
          );
        };
    wrapped.set(op, target[op]);
    restore.push(() => {
      if (own) target[op] = original;
      else delete target[op];
    });
  }
  if (sync) {
    // Offered while every operation is still the timed one: a wrapper put on later is called, not skipped.
    const ops = timedSync as SyncSessionOps;
    const current = (): SyncSessionOps | undefined => {
      for (const [op, fn] of wrapped) if (target[op] !== fn) return undefined;
      return ops;
    };
    Object.defineProperty(store, 'sync', { configurable: true, get: current });
    restore.push(() => delete target.sync);
  }
  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      for (const r of restore) r();
      store.off('invalid', onInvalid);
      scope.close();
    },
  };
}

/** Options of a store package's `metrics()`: the strategy using the store, or the store and its node. */
export interface BackendMetricsOptions {
  /** The strategy whose store is measured (its `nodeId` is the `node` label). */
  strategy?: {
    /** The strategy's store. */
    store: SessionStore;
    /** The strategy's node id. */
    nodeId: string;
  };
  /** The store, when it is not a strategy's. */
  store?: SessionStore;
  /** The `node` label. @default the strategy's `nodeId` */
  node?: string;
  /** Report `scaleout_store_sessions` at each scrape (see {@link StoreMetricsOptions.sessions}). */
  sessions?: boolean;
  /** Histogram buckets, in seconds. @default {@link LATENCY_BUCKETS} */
  buckets?: number[];
}

/** What the store packages' `metrics()` share: resolves the store and node, then {@link storeMetrics}. */
export function backendMetrics(type: string, registry: Registry, options: BackendMetricsOptions, sessionsByDefault: boolean): StoreMetrics {
  const store = options?.store ?? options?.strategy?.store;
  const node = options?.node ?? options?.strategy?.nodeId;
  if (!store || typeof store.get !== 'function') throw new InvalidArgumentError('store', `metrics() of the ${type} store: give { strategy } or { store, node }`);
  if (typeof node !== 'string') throw new InvalidArgumentError('node', `metrics() of the ${type} store: give { strategy } or a node label`);
  return storeMetrics(registry, store, { type, node, sessions: options.sessions ?? sessionsByDefault, ...(options.buckets && { buckets: options.buckets }) });
}
