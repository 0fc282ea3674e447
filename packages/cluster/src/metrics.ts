import type { Registry } from 'prom-client';
import { backendMetrics, InvalidArgumentError, MetricScope, type StoreMetrics } from '@scaleout/core';
import type { ReplicatedStore } from './replicated-store.js';

/** Buckets of the replication lag, in seconds: a LAN hop (1 ms) to a partition healing (10 s). */
export const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Options of the cluster's {@link metrics}. */
export interface ClusterMetricsOptions {
  /** The cluster strategy (its store is the replicated store, its `nodeId` the `node` label). */
  strategy?: {
    /** The strategy's store: a {@link ReplicatedStore}. */
    store: unknown;
    /** The strategy's node id. */
    nodeId: string;
  };
  /** The replicated store, when it is not a strategy's. */
  store?: ReplicatedStore;
  /** The `node` label. @default the strategy's `nodeId`, else the store's */
  node?: string;
  /** Buckets of `scaleout_cluster_replication_lag_seconds`. @default {@link LAG_BUCKETS} */
  lagBuckets?: number[];
}

const DROP_REASONS = { oversized: 'oversized', malformed: 'malformed', forged: 'forged', replayed: 'replayed', unknownType: 'unknown_type' } as const;

/**
 * Registers the cluster's metrics on `registry`: `scaleout_cluster_*` (replication lag from the
 * origin's HLC to apply, frames, dropped frames by reason, gaps, resyncs, peers) and the
 * replicated store's `scaleout_store_*` (`store="cluster"`, sessions included: they are in
 * memory). The counters are read from `stats()` at scrape time; only the lag is fed per write.
 * A second call for the same node on one registry throws `ERR_SCALEOUT_METRICS_REGISTERED`.
 */
export function metrics(registry: Registry, options: ClusterMetricsOptions): StoreMetrics {
  const store = (options?.store ?? options?.strategy?.store) as ReplicatedStore | undefined;
  if (!store || typeof store.stats !== 'function' || typeof store.on !== 'function') {
    throw new InvalidArgumentError('store', 'metrics() of the cluster: give { strategy } of the cluster strategy, or { store } (a ReplicatedStore)');
  }
  const node = options.node ?? options.strategy?.nodeId ?? store.nodeId;
  const scope = new MetricScope(registry, 'cluster', node);
  let storeMetrics: StoreMetrics;
  try {
    storeMetrics = backendMetrics('cluster', registry, { store, node }, true);
  } catch (err) {
    scope.close();
    throw err;
  }
  const lag = scope.histogram({
    name: 'scaleout_cluster_replication_lag_seconds',
    help: "Time from a peer's write (its hybrid logical clock) to its apply on this node, for live replication (repairs and snapshots excluded).",
    buckets: options.lagBuckets ?? LAG_BUCKETS,
  }).series();
  const onReplicated = (ms: number) => lag.observe(Math.max(0, ms) / 1000);
  store.on('replicated', onReplicated);
  scope.collected('counter', { name: 'scaleout_cluster_frames_total', help: 'Replication frames by direction (sent, received) and kind (writes: live changes; other: digests, repairs, snapshots, joins; received other includes frames then dropped).', labelNames: ['direction', 'kind'] }, (set) => {
    const s = store.stats();
    set({ direction: 'sent', kind: 'writes' }, s.writeFrames);
    set({ direction: 'sent', kind: 'other' }, s.framesSent - s.writeFrames);
    set({ direction: 'received', kind: 'writes' }, s.writeFramesReceived);
    set({ direction: 'received', kind: 'other' }, s.framesReceived - s.writeFramesReceived);
  });
  scope.collected('counter', { name: 'scaleout_cluster_dropped_frames_total', help: 'Frames received and dropped unapplied, by reason (oversized, malformed, forged, replayed, unknown_type).', labelNames: ['reason'] }, (set) => {
    const dropped = store.stats().dropped;
    for (const [key, reason] of Object.entries(DROP_REASONS)) set({ reason }, dropped[key as keyof typeof DROP_REASONS]);
  });
  scope.collected('counter', { name: 'scaleout_cluster_gaps_total', help: "Broadcast frames found missing from a peer's sequence." }, (set) => set({}, store.stats().gaps));
  scope.collected('counter', { name: 'scaleout_cluster_resyncs_total', help: 'Repairs started by a gap or a transport reconnect.' }, (set) => set({}, store.stats().resyncs));
  scope.collected('gauge', { name: 'scaleout_cluster_peers', help: 'Peers heard from within two anti-entropy intervals.' }, (set) => set({}, store.stats().peers.length));
  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      store.off('replicated', onReplicated);
      storeMetrics.close();
      scope.close();
    },
  };
}
