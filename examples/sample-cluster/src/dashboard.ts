import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { debuglog } from 'node:util';
import { ALGORITHMS } from '@scaleout/balancer';
import { dashboardPage } from './dashboard-page.js';

const debug = debuglog('scaleout:sample-dashboard');

/** What the dashboard drives: the launcher, which owns the processes. */
export interface DashboardTarget {
  status(): unknown;
  kill(id: string): Promise<unknown>;
  restart(id: string): Promise<unknown>;
  setAlgorithm(name: string): void;
  nodes(): { id: string }[];
}

function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res
    .writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', ...extra })
    .end(body);
}
const json = (res: ServerResponse, status: number, value: unknown) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));

/**
 * The launcher's control endpoint and dashboard, on loopback only: `GET /` (the page),
 * `GET /status.json`, `POST /nodes/<id>/kill|restart`, `POST /algorithm?name=…`. POSTs need the
 * `X-Scaleout-Admin` header, which a cross-site form cannot send. Every request must name this
 * dashboard in `Host` (`127.0.0.1:<port>` or `localhost:<port>`), and a POST's `Origin`, when
 * sent, must be this dashboard: a page whose own name was rebound to 127.0.0.1 (DNS rebinding)
 * could otherwise send the header from its own origin.
 */
export class Dashboard {
  readonly #target: DashboardTarget;
  readonly #port: number;
  readonly #server: Server;
  #url = '';
  #closed: Promise<void> | undefined;

  constructor(target: DashboardTarget, port = 0) {
    this.#target = target;
    this.#port = port;
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  get url(): string {
    return this.#url;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#url = `http://127.0.0.1:${(this.#server.address() as { port: number }).port}/`;
    return this.#url;
  }

  /** True when `Host` (and `Origin`, when sent) name this dashboard's loopback address. */
  #sameOrigin(req: IncomingMessage): boolean {
    const port = (this.#server.address() as { port: number } | null)?.port;
    const hosts = [`127.0.0.1:${port}`, `localhost:${port}`];
    const host = req.headers.host?.toLowerCase();
    if (host === undefined || !hosts.includes(host)) return false;
    const origin = req.headers.origin?.toLowerCase();
    return origin === undefined || hosts.some((h) => origin === `http://${h}`);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (!this.#sameOrigin(req)) {
        req.resume();
        return json(res, 403, { error: 'Host or Origin is not this dashboard' });
      }
      const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
      if (req.method === 'GET' || req.method === 'HEAD') {
        if (url.pathname === '/status.json') return json(res, 200, this.#target.status());
        if (url.pathname === '/') {
          const nonce = randomBytes(12).toString('base64');
          return send(res, 200, 'text/html; charset=utf-8', dashboardPage(nonce), {
            'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'`,
          });
        }
        return send(res, 404, 'text/plain; charset=utf-8', '404 Not Found\n');
      }
      req.resume();
      if (req.method !== 'POST') return send(res, 405, 'text/plain; charset=utf-8', '405 Method Not Allowed\n', { allow: 'GET, HEAD, POST' });
      if (!req.headers['x-scaleout-admin']) return json(res, 403, { error: 'admin requests need the X-Scaleout-Admin header' });
      if (url.pathname === '/algorithm') {
        const name = url.searchParams.get('name');
        if (!name || !(ALGORITHMS as readonly string[]).includes(name)) return json(res, 400, { error: 'unknown algorithm', allowed: ALGORITHMS });
        this.#target.setAlgorithm(name);
        return json(res, 200, { algorithm: name });
      }
      const m = /^\/nodes\/([A-Za-z0-9._:-]{1,128})\/(kill|restart)$/.exec(url.pathname);
      if (!m || !this.#target.nodes().some((n) => n.id === m[1])) return json(res, 404, { error: 'no such node or action' });
      const result = m[2] === 'kill' ? await this.#target.kill(m[1]!) : await this.#target.restart(m[1]!);
      return json(res, 200, result);
    } catch (err) {
      debug('request failed: %s', (err as Error).message);
      if (!res.headersSent) json(res, 500, { error: (err as Error).message });
    }
  }

  /** Stops listening. Safe to call twice. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#server.closeAllConnections();
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
    });
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
