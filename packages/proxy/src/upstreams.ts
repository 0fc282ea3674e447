import { Pool } from 'undici';
import type { Endpoint } from '@scaleout/balancer';
import type { ProxyConfig } from './config.js';

// An idle pooled connection is closed before Node's default server keepAliveTimeout (5 s), so the
// proxy rarely reuses a connection that the node is closing at the same moment.
const IDLE_UPSTREAM_MS = 4000;

/**
 * The keep-alive connections to the nodes: one undici `Pool` per target. undici's client spends
 * about a third less CPU per request than `http.request` (see docs/proxy-benchmarks.md).
 */
export class Upstreams {
  readonly #pools = new Map<string, Pool>();
  readonly #config: ProxyConfig;

  constructor(config: ProxyConfig) {
    this.#config = config;
  }

  /** The pool of a target, made on first use. */
  for(endpoint: Endpoint): Pool {
    let pool = this.#pools.get(endpoint.id);
    if (!pool) {
      const t = this.#config.timeouts;
      pool = new Pool(endpoint.url.origin, {
        // HAProxy `server … maxconn`: requests past it wait in undici's queue for a free connection.
        connections: this.#config.targets.find((t) => t.id === endpoint.id)?.maxConnections ?? 512,
        pipelining: 1,
        connectTimeout: t.connect,
        headersTimeout: 0, // timed per request in http-proxy.ts
        bodyTimeout: t.server,
        keepAliveTimeout: IDLE_UPSTREAM_MS,
        keepAliveMaxTimeout: IDLE_UPSTREAM_MS,
        maxHeaderSize: 64 * 1024,
      });
      this.#pools.set(endpoint.id, pool);
    }
    return pool;
  }

  /** Closes every connection at once. Safe to call twice. */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => {})));
  }
}
