/**
 * The session interface, memory store, config, strategies and route cookie of scaleout.
 * @module @scaleout/core
 */

export * from './errors.js';
export type * from './types.js';
export * from './duration.js';
export * from './timeout.js';
export * from './session-value.js';
export * from './memory-store.js';
export * from './memory-store-options.js';
export * from './route-cookie.js';
export * from './config.js';
export * from './config-fields.js';
export * from './config-store.js';
export * from './config-cluster.js';
export * from './strategy.js';
export * from './plugin-registry.js';
export * from './parse-options.js';
export * from './session-id.js';
export * from './http.js';
export * from './session-patch.js';
export * from './session-lock.js';
export * from './user-index.js';
export * from './session-directory.js';
export * from './engine/session-cookie.js';
export * from './engine/engine-options.js';
export * from './engine/session-state.js';
export * from './engine/session-engine.js';
export * from './engine/session-observer.js';
export * from './metrics/metric-scope.js';
export type { CounterSeries, HistogramSeries } from './metrics/recorded-series.js';
export * from './metrics/store-metrics.js';
export * from './metrics/session-metrics.js';
