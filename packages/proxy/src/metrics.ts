import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProxyError } from './errors.js';
import type { ProxyStats } from './status-page.js';

const STATES = ['up', 'down', 'drain', 'ejected'] as const;

/**
 * The proxy's Prometheus metrics, in a registry of its own (never prom-client's global one, so
 * two proxies in a process, or an app's own metrics, stay apart). Counters kept by the balancer
 * and the pool are read at scrape time (`collect()`); only the latency histogram and the error
 * counter are fed per request.
 */
export class ProxyMetrics {
  readonly registry = new Registry();
  readonly #latency: Histogram<'target'>;
  readonly #errors: Counter<'target' | 'status'>;

  constructor(stats: () => ProxyStats) {
    const registers = [this.registry];
    const perTarget = <T>(pick: (t: ProxyStats['targets'][number]) => T) => stats().targets.map((t) => [t.id, pick(t)] as const);
    new Counter({
      name: 'scaleout_proxy_requests_total',
      help: 'Exchanges with a target that ended (answered or failed; a client that left is not counted).',
      labelNames: ['target'],
      registers,
      collect() {
        this.reset();
        for (const [target, n] of perTarget((t) => t.requests)) this.inc({ target }, n);
      },
    });
    new Counter({
      name: 'scaleout_proxy_target_failures_total',
      help: 'Exchanges charged to a target as failures (connect errors, timeouts, 5xx): what passive health counts.',
      labelNames: ['target'],
      registers,
      collect() {
        this.reset();
        for (const [target, n] of perTarget((t) => t.failures)) this.inc({ target }, n);
      },
    });
    new Counter({
      name: 'scaleout_proxy_redispatches_total',
      help: 'Requests pinned to a target that was down, served by this one instead (HAProxy redispatch).',
      labelNames: ['target'],
      registers,
      collect() {
        this.reset();
        for (const [target, n] of perTarget((t) => t.pins.redispatched)) this.inc({ target }, n);
      },
    });
    new Gauge({
      name: 'scaleout_proxy_in_flight',
      help: 'Requests and tunnels open to a target now.',
      labelNames: ['target'],
      registers,
      collect() {
        for (const [target, n] of perTarget((t) => t.inFlight)) this.set({ target }, n);
      },
    });
    new Gauge({
      name: 'scaleout_proxy_target_state',
      help: '1 for the state a target is in (up, down, drain, ejected), 0 for the others.',
      labelNames: ['target', 'state'],
      registers,
      collect() {
        for (const [target, now] of perTarget((t) => t.state)) for (const state of STATES) this.set({ target, state }, state === now ? 1 : 0);
      },
    });
    new Gauge({
      name: 'scaleout_proxy_connections',
      help: 'Client connections open now.',
      registers,
      collect() {
        this.set(stats().connections);
      },
    });
    this.#errors = new Counter({
      name: 'scaleout_proxy_errors_total',
      help: 'Answers the proxy made itself because it could not serve, by status (502, 503, 504) and the target involved ("" when none was).',
      labelNames: ['target', 'status'],
      registers,
    });
    this.#latency = new Histogram({
      name: 'scaleout_proxy_response_seconds',
      help: "Time from sending a request to a target to its response head (the target's share of the latency).",
      labelNames: ['target'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
  }

  /** A response head came from `target` after `ms`. */
  observe(target: string, ms: number): void {
    this.#latency.observe({ target }, ms / 1000);
  }

  /** The proxy answered 502/503/504 itself. */
  error(err: ProxyError): void {
    this.#errors.inc({ target: err.targetId ?? '', status: String(err.status) });
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
