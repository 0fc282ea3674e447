import type { Registry } from 'prom-client';
import { backendMetrics, type BackendMetricsOptions, type StoreMetrics } from '@scaleout/core';

/**
 * Registers the Hazelcast store's `scaleout_store_*` metrics (`store="hazelcast"`) on `registry`:
 * operation times and errors, up, invalid values. `scaleout_store_sessions` only with
 * `sessions: true`: counting is a round trip to Hazelcast at every scrape. A second call for
 * the same node on one registry throws `ERR_SCALEOUT_METRICS_REGISTERED`.
 */
export function metrics(registry: Registry, options: BackendMetricsOptions): StoreMetrics {
  return backendMetrics('hazelcast', registry, options, false);
}
