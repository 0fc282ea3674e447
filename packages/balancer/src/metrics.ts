import type { BalancerStats } from './balancer.js';
import type { Endpoint } from './endpoint.js';
import { refuse } from './errors.js';

/** The part of a prom-client `Registry` the balancer uses (so prom-client stays a caller's choice). */
export interface MetricsRegistry {
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
}

export interface MetricsOptions {
  /** Prefix of every metric name. @default 'scaleout_balancer_' */
  prefix?: string;
}

/** What a balancer shows to the metrics collector. */
interface Source {
  readonly options: { name: string };
  readonly endpoints: { all(): readonly Endpoint[] };
  stats(): BalancerStats;
}

interface Sample {
  labels: Record<string, string>;
  value: number;
}

type Kind = 'gauge' | 'counter';

const PER_ENDPOINT: Array<[string, Kind, string, (ep: Endpoint) => number]> = [
  ['endpoint_in_flight', 'gauge', 'Requests in flight on the endpoint.', (ep) => ep.inFlight],
  ['endpoint_requests_total', 'counter', 'Tries finished on the endpoint.', (ep) => ep.requests],
  ['endpoint_failures_total', 'counter', 'Tries that failed on the endpoint (connection error, timeout or 5xx).', (ep) => ep.failures],
  ['endpoint_ejections_total', 'counter', 'Times outlier detection ejected the endpoint.', (ep) => ep.ejections],
  ['endpoint_latency_ewma_seconds', 'gauge', 'Peak EWMA of the time to response headers.', (ep) => (ep.latencyEwma() ?? 0) / 1000],
  ['endpoint_available', 'gauge', '1 when the endpoint may be picked (healthy, not ejected, not draining).', (ep) => (ep.available ? 1 : 0)],
  ['endpoint_healthy', 'gauge', '1 when active health checks pass.', (ep) => (ep.healthy ? 1 : 0)],
];

const PER_BALANCER: Array<[string, Kind, string, (s: BalancerStats) => number]> = [
  ['requests_total', 'counter', 'Calls to fetch().', (s) => s.requests],
  ['retries_total', 'counter', 'Retries sent.', (s) => s.retries],
  ['hedges_total', 'counter', 'Hedged tries sent.', (s) => s.hedges],
  ['retry_budget_refused_total', 'counter', 'Retries and hedges the retry budget refused.', (s) => s.retryBudget?.refused ?? 0],
  ['panic', 'gauge', '1 while the panic threshold is crossed.', (s) => (s.panic ? 1 : 0)],
];

/** Balancers registered per registry and prefix, so that several can share one set of metrics. */
const registered = new WeakMap<MetricsRegistry, Map<string, Set<Source>>>();

/**
 * Registers the balancer's metrics in `registry`, computed at scrape time from `stats()`; returns
 * the function that unregisters it. Each metric is a plain object with prom-client's collector
 * shape (`name`, `help`, `type`, `get()`), so prom-client is never imported here.
 */
export function collectMetrics(registry: MetricsRegistry, source: Source, options: MetricsOptions = {}): () => void {
  if (registry === null || typeof registry !== 'object' || typeof registry.registerMetric !== 'function' || typeof registry.removeSingleMetric !== 'function') {
    refuse('registry', registry, 'give a prom-client Registry (or one with registerMetric and removeSingleMetric)');
  }
  const prefix = options.prefix ?? 'scaleout_balancer_';
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]{0,100}$/.test(prefix)) refuse('prefix', prefix, 'give a Prometheus metric name prefix such as "scaleout_balancer_"');
  let byPrefix = registered.get(registry);
  if (!byPrefix) registered.set(registry, (byPrefix = new Map()));
  let sources = byPrefix.get(prefix);
  if (!sources) {
    const live = (sources = new Set());
    byPrefix.set(prefix, live);
    const endpointSamples = (value: (ep: Endpoint) => number): Sample[] =>
      [...live].flatMap((s) => s.endpoints.all().map((ep) => ({ labels: { balancer: s.options.name, endpoint: ep.id }, value: value(ep) })));
    const balancerSamples = (value: (st: BalancerStats) => number): Sample[] => [...live].map((s) => ({ labels: { balancer: s.options.name }, value: value(s.stats()) }));
    for (const [name, type, help, value] of PER_ENDPOINT) registry.registerMetric(metric(prefix + name, type, help, () => endpointSamples(value)) as never);
    for (const [name, type, help, value] of PER_BALANCER) registry.registerMetric(metric(prefix + name, type, help, () => balancerSamples(value)) as never);
  }
  sources.add(source);
  const own = sources;
  return () => {
    own.delete(source);
    if (own.size > 0) return;
    byPrefix!.delete(prefix);
    for (const [name] of [...PER_ENDPOINT, ...PER_BALANCER]) registry.removeSingleMetric(prefix + name);
  };
}

function metric(name: string, type: Kind, help: string, values: () => Sample[]) {
  const snapshot = () => ({ name, help, type, aggregator: 'sum', values: values() });
  return { name, help, type, aggregator: 'sum', get: async () => snapshot(), reset: () => {} };
}
