import type { IncomingMessage, ServerResponse } from 'node:http';

/** Why the proxy can or cannot take traffic, as `Proxy.health()` and the health endpoint report it. */
export interface ProxyHealth {
  /** True only while listening, not draining, not closing, and at least one target can take new requests. */
  ok: boolean;
  /** What the proxy is doing: serving; starting (not listening yet); draining or closing; or listening with no target up. */
  state: 'serving' | 'starting' | 'draining' | 'closing' | 'no-target-up';
  /** Targets that may be picked for new requests (healthy, not ejected, not drained by an admin). */
  targetsUp: number;
  /** Targets configured, whatever their state. */
  targets: number;
}

/** What the health endpoint asks. */
export interface HealthSource {
  health(): ProxyHealth;
}

/**
 * `GET|HEAD <path>`: 200 while the proxy can serve, 503 otherwise, with the reason as JSON.
 * Meant for whatever decides whether traffic should reach this proxy: keepalived's
 * `vrrp_script`, a cloud load balancer's target check, Kubernetes' readiness probe. Like
 * HAProxy's `monitor-uri` it needs no token: it tells nothing but whether to send traffic here.
 */
export class HealthEndpoint {
  readonly path: string;
  readonly #source: HealthSource;

  constructor(path: string, source: HealthSource) {
    this.path = path.replace(/\/+$/, '') || '/';
    this.#source = source;
  }

  /** True when a request URL is the health path (a query string is ignored). */
  matches(url: string | undefined): boolean {
    if (url === undefined || !url.startsWith(this.path)) return false;
    return url.length === this.path.length || url[this.path.length] === '?';
  }

  /** Answers one health request. Never throws. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, allow: 'GET, HEAD' }).end('{"error":"method not allowed"}');
      return;
    }
    const h = this.#source.health();
    const body = JSON.stringify(h);
    // A checker runs once a second: a connection kept open between checks would only pin the
    // proxy's `close()` on an idle socket.
    res.writeHead(h.ok ? 200 : 503, { ...headers, 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
