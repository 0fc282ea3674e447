import { createRequire } from 'node:module';
import type { Counter, Gauge, Registry } from 'prom-client';
import type { BalancerStats } from './balancer.js';
import type { Endpoint } from './endpoint.js';
import { BalancerError, BalancerErrorCodes, refuse } from './errors.js';

/** The part of a prom-client `Registry` the balancer uses. */
export type MetricsRegistry = Pick<Registry, 'getSingleMetric' | 'registerMetric' | 'removeSingleMetric'>;

/** Options of the balancer's metrics. */
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

type PromClient = typeof import('prom-client');
let prom: PromClient | undefined;
/** prom-client, loaded on the first registration: a balancer without metrics never loads it. */
function promClient(): PromClient {
  try {
    return (prom ??= createRequire(import.meta.url)('prom-client') as PromClient);
  } catch (err) {
    throw new BalancerError(BalancerErrorCodes.CONFIG, 'metrics need the package prom-client: run `npm install prom-client`', { cause: err });
  }
}

/** Balancers registered per registry and prefix, so that several can share one set of metrics. */
const registered = new WeakMap<object, Map<string, Set<Source>>>();

/**
 * Registers the balancer's metrics in `registry` as prom-client counters and gauges whose
 * `collect()` reads every registered balancer's `stats()` at scrape time; returns the function
 * that unregisters it. Balancers sharing a registry differ by the `balancer` label; a second
 * balancer of the same name on one registry is refused with `ERR_SCALEOUT_METRICS_REGISTERED`.
 */
export function collectMetrics(registry: MetricsRegistry, source: Source, options: MetricsOptions = {}): () => void {
  if (registry === null || typeof registry !== 'object' || typeof registry.registerMetric !== 'function' || typeof registry.removeSingleMetric !== 'function' || typeof registry.getSingleMetric !== 'function') {
    refuse('registry', registry, 'give a prom-client Registry');
  }
  const prefix = options.prefix ?? 'scaleout_balancer_';
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]{0,100}$/.test(prefix)) refuse('prefix', prefix, 'give a Prometheus metric name prefix such as "scaleout_balancer_"');
  let byPrefix = registered.get(registry);
  if (!byPrefix) registered.set(registry, (byPrefix = new Map()));
  let sources = byPrefix.get(prefix);
  if (sources && [...sources].some((s) => s.options.name === source.options.name)) {
    throw new BalancerError(BalancerErrorCodes.METRICS_REGISTERED, `the metrics of balancer "${source.options.name}" are already registered on this registry; give each balancer its own name`);
  }
  if (!sources) {
    const live = (sources = new Set());
    const { Counter, Gauge } = promClient();
    byPrefix.set(prefix, live);
    const registers = [registry as Registry];
    const make = (name: string, type: Kind, help: string, labelNames: string[], fill: (m: Gauge | Counter) => void) => {
      const collect = function (this: Gauge | Counter) {
        this.reset();
        fill(this);
      };
      if (type === 'gauge') new Gauge({ name: prefix + name, help, labelNames, registers, collect });
      else new Counter({ name: prefix + name, help, labelNames, registers, collect });
    };
    const put = (m: Gauge | Counter, labels: Record<string, string>, v: number) => ('set' in m ? m.set(labels, v) : m.inc(labels, v));
    for (const [name, type, help, value] of PER_ENDPOINT) {
      make(name, type, help, ['balancer', 'endpoint'], (m) => {
        for (const s of live) for (const ep of s.endpoints.all()) put(m, { balancer: s.options.name, endpoint: ep.id }, value(ep));
      });
    }
    for (const [name, type, help, value] of PER_BALANCER) {
      make(name, type, help, ['balancer'], (m) => {
        for (const s of live) put(m, { balancer: s.options.name }, value(s.stats()));
      });
    }
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

/** Options of {@link metrics}. */
export interface BalancerMetricsOptions extends MetricsOptions {
  /** The balancer to measure; its `name` is the `balancer` label. */
  balancer: {
    /** Registers the balancer's metrics on `registry`. */
    collectMetrics(registry: MetricsRegistry, options?: MetricsOptions): void;
  };
}

/** The balancer's entry point under the name every scaleout package uses: `balancer.collectMetrics(registry, options)`. */
export function metrics(registry: MetricsRegistry, options: BalancerMetricsOptions): void {
  if (!options?.balancer || typeof options.balancer.collectMetrics !== 'function') refuse('balancer', options?.balancer, 'give the balancer to measure: metrics(registry, { balancer })');
  const { balancer, ...rest } = options;
  balancer.collectMetrics(registry, rest);
}
