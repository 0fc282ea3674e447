import { Registry } from 'prom-client';
import { MetricScope, type HistogramSeries, type ScopedCounter, type ScopedHistogram } from '@scaleout/core';
import type { ProxyError } from './errors.js';
import type { ProxyStats } from './status-page.js';

const STATES = ['up', 'down', 'drain', 'ejected'] as const;
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The per-request metrics of one registry the proxy feeds. */
interface Fed {
  latency: ScopedHistogram;
  errors: ScopedCounter;
  /** The latency series of each target, made on its first response. */
  byTarget: Map<string, HistogramSeries>;
}

/**
 * The proxy's Prometheus metrics, in a registry of its own (never prom-client's global one, so
 * two proxies in a process, or an app's own metrics, stay apart), and in any app registry it is
 * attached to (`metrics(registry, { proxy })`), through core's `MetricScope` like every other
 * package: the `proxy` label tells proxies apart. Counters kept by the balancer and the pool are
 * read at scrape time (`collect()`); only the latency histogram and the error counter are fed
 * per request.
 */
export class ProxyMetrics {
  readonly registry = new Registry();
  readonly #stats: () => ProxyStats;
  readonly #fed: Fed[] = [];
  readonly #scopes: MetricScope[] = [];

  constructor(stats: () => ProxyStats) {
    this.#stats = stats;
    this.attach(this.registry, 'proxy');
  }

  /** Registers the proxy's metrics on `registry` with `proxy="<name>"`; refused twice for one name. */
  attach(registry: Registry, name: string): void {
    const scope = new MetricScope(registry, 'proxy', name, 'proxy');
    const perTarget = (set: (labels: Record<string, string>, value: number) => void, pick: (t: ProxyStats['targets'][number]) => number) => {
      for (const t of this.#stats().targets) set({ target: t.id }, pick(t));
    };
    const target = ['target'];
    scope.collected('counter', { name: 'scaleout_proxy_requests_total', help: 'Exchanges with a target that ended (answered or failed; a client that left is not counted).', labelNames: target }, (set) => perTarget(set, (t) => t.requests));
    scope.collected('counter', { name: 'scaleout_proxy_target_failures_total', help: 'Exchanges charged to a target as failures (connect errors, timeouts, 5xx): what passive health counts.', labelNames: target }, (set) => perTarget(set, (t) => t.failures));
    scope.collected('counter', { name: 'scaleout_proxy_redispatches_total', help: 'Requests pinned to a target that was down, served by this one instead (HAProxy redispatch).', labelNames: target }, (set) => perTarget(set, (t) => t.pins.redispatched));
    scope.collected('gauge', { name: 'scaleout_proxy_in_flight', help: 'Requests and tunnels open to a target now.', labelNames: target }, (set) => perTarget(set, (t) => t.inFlight));
    scope.collected('gauge', { name: 'scaleout_proxy_target_state', help: '1 for the state a target is in (up, down, drain, ejected), 0 for the others.', labelNames: ['target', 'state'] }, (set) => {
      for (const t of this.#stats().targets) for (const state of STATES) set({ target: t.id, state }, state === t.state ? 1 : 0);
    });
    scope.collected('gauge', { name: 'scaleout_proxy_connections', help: 'Client connections open now.' }, (set) => set({}, this.#stats().connections));
    const errors = scope.counter({
      name: 'scaleout_proxy_errors_total',
      help: 'Answers the proxy made itself because it could not serve, by status (502, 503, 504) and the target involved ("" when none was).',
      labelNames: ['target', 'status'],
    });
    const latency = scope.histogram({
      name: 'scaleout_proxy_response_seconds',
      help: "Time from sending a request to a target to its response head (the target's share of the latency).",
      labelNames: ['target'],
      buckets: BUCKETS,
    });
    this.#scopes.push(scope);
    this.#fed.push({ latency, errors, byTarget: new Map() });
  }

  /** A response head came from `target` after `ms`. */
  observe(target: string, ms: number): void {
    for (let i = 0; i < this.#fed.length; i++) {
      const fed = this.#fed[i]!;
      let series = fed.byTarget.get(target);
      if (!series) fed.byTarget.set(target, (series = fed.latency.series({ target })));
      series.observe(ms / 1000);
    }
  }

  /** The proxy answered 502/503/504 itself. */
  error(err: ProxyError): void {
    for (const fed of this.#fed) fed.errors.inc({ target: err.targetId ?? '', status: String(err.status) });
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}

/** Options of the proxy's {@link metrics}. */
export interface ProxyMetricsOptions {
  /** The proxy whose metrics the registry gets too. */
  proxy: {
    /** Registers the proxy's metrics on `registry` under the `proxy` label `name`. */
    shareMetrics(registry: Registry, name: string): void;
  };
  /** The `proxy` label that tells this proxy from others on the registry. @default "proxy" */
  name?: string;
}

/**
 * Registers a proxy's `scaleout_proxy_*` metrics on an app's registry as well as on its own
 * (`<status path>/metrics`), for a proxy embedded in an app process. A second call for the same
 * name on one registry throws `ERR_SCALEOUT_METRICS_REGISTERED`.
 */
export function metrics(registry: Registry, options: ProxyMetricsOptions): void {
  options.proxy.shareMetrics(registry, options.name ?? 'proxy');
}
