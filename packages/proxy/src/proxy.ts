import { EventEmitter, once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import { ConfigError } from '@scaleout/core';
import { isLoopback, parseProxyConfig, type ProxyConfig, type ProxyConfigInput } from './config.js';
import { stateError, type ProxyError } from './errors.js';
import { Deadlines } from './deadlines.js';
import { HealthEndpoint, type ProxyHealth } from './health.js';
import { bareAddress, compileTrust } from './headers.js';
import { forward, rawResponse, sendBadRequest, servedBy, type ForwardContext } from './http-proxy.js';
import type { Registry } from 'prom-client';
import { ProxyMetrics } from './metrics.js';
import { RetryPolicy } from './retry-policy.js';
import { Upstreams } from './upstreams.js';
import { TargetPool } from './pool.js';
import { StatusEndpoint, type ProxyStats, type StatusPageOptions } from './status-page.js';
import { Stickiness } from './sticky.js';
import { forwardTcp } from './tcp-proxy.js';
import { forwardUpgrade } from './upgrade.js';

const debug = debuglog('scaleout:proxy');

/** One line of the access log: an HTTP exchange through the proxy, as the `access` event gives it. */
export interface AccessEntry {
  /** When the request arrived (ISO 8601). */
  time: string;
  /** The peer's address. */
  client: string;
  /** The request method. */
  method: string;
  /** The path without its query string (which may carry tokens). */
  path: string;
  /** The status sent; 0 when the client got none (it left, or was cut). */
  status: number;
  /** The target that answered, or `null` when the proxy answered itself. */
  target: string | null;
  /** Time from the request's arrival to the end of the exchange, in ms. */
  durationMs: number;
  /** Bytes written to the client for this exchange, head included. */
  bytes: number;
}

/** Options that a config file cannot carry. */
export interface ProxyOptions {
  /** Extra controls and title of the status page. @default {} */
  status?: StatusPageOptions;
}

// Node's parser errors that mean "the request head is too big", answered 431 (RFC 6585 §5).
const TOO_LARGE = new Set(['HPE_HEADER_OVERFLOW']);

/**
 * The L7 (HTTP/1.1 + WebSocket) or L4 (TCP) load balancer.
 * Events: `up` and `down` (target id) when a target's health changes; `upstreamError`
 * (a `ProxyError`) for each request the proxy answered 502/503/504 itself; `drain` when `drain()`
 * is called; `access` (an `AccessEntry`) once per HTTP request when it is over, only built while
 * someone listens.
 */
export class Proxy extends EventEmitter {
  /** The validated config. */
  readonly config: ProxyConfig;
  readonly #pool: TargetPool;
  readonly #sticky: Stickiness;
  readonly #upstreams: Upstreams;
  readonly #status: StatusEndpoint | undefined;
  readonly #health: HealthEndpoint | undefined;
  #draining = false;
  readonly #server: HttpServer | TcpServer;
  readonly #tunnels = new Set<Duplex>();
  /** Client connections open now, against `maxConnections`. */
  #open = 0;
  /** Connections past `maxConnections`: answered 503 by `#admit`, then ignored by the HTTP server's handlers. */
  readonly #refused = new WeakSet<Duplex>();
  readonly #errors = { 502: 0, 503: 0, 504: 0 };
  readonly #started = Date.now();
  readonly #metrics = new ProxyMetrics(() => this.stats());
  readonly #deadlines: Deadlines;
  #listening: Promise<{ port: number; host: string }> | undefined;
  #closed: Promise<void> | undefined;

  constructor(config: ProxyConfigInput | ProxyConfig, options: ProxyOptions = {}) {
    super();
    this.config = parseProxyConfig(config);
    const c = this.config;
    this.#pool = new TargetPool(c);
    this.#pool.on('up', (id: string) => this.emit('up', id));
    this.#pool.on('down', (id: string) => this.emit('down', id));
    this.#sticky = new Stickiness(c);
    this.#upstreams = new Upstreams(c);
    this.#deadlines = new Deadlines(c.timeouts.server);
    if (c.health.enabled && c.mode === 'http') this.#health = new HealthEndpoint(c.health.path, this);
    if (c.status.enabled && c.mode === 'http') {
      const address = () => (this.#server.address() as AddressInfo | null) ?? undefined;
      this.#status = new StatusEndpoint({ ...c.status, address }, this, options.status);
    }
    const onUpstreamError = (err: ProxyError) => {
      this.#errors[err.status]++;
      this.#metrics.error(err);
      this.emit('upstreamError', err);
    };
    const retry = new RetryPolicy(c);
    if (c.mode === 'tcp') {
      const ctx = { config: c, pool: this.#pool, onUpstreamError, retry };
      // A client's FIN is passed on to its node rather than closing the tunnel: a protocol may
      // answer after the request's end (as HAProxy forwards half-closes in TCP mode).
      this.#server = createTcpServer({ allowHalfOpen: true }, (socket) => {
        if (!this.#admit(socket)) return;
        this.#track(socket);
        forwardTcp(ctx, socket);
      });
      return;
    }
    const ctx: ForwardContext = { config: c, pool: this.#pool, sticky: this.#sticky, upstreams: this.#upstreams, retry, trust: compileTrust(c.trustProxy), closing: () => this.#closed !== undefined || this.#draining, onUpstreamError, observe: (id, ms) => this.#metrics.observe(id, ms), deadlines: this.#deadlines };
    const server = createHttpServer(
      {
        maxHeaderSize: c.maxHeaderSize,
        headersTimeout: c.timeouts.headers,
        requestTimeout: c.timeouts.request,
        keepAliveTimeout: c.timeouts.idle,
        // How often Node checks the two timeouts above; its default (30 s) would let a slowloris
        // client hold a connection far past `timeouts.headers`.
        connectionsCheckingInterval: Math.max(250, Math.min(1000, Math.floor(c.timeouts.headers / 2))),
      },
      (req, res) => {
        if (this.#refused.has(req.socket)) return;
        // The access log costs nothing while no one listens: not even the record of the target.
        const logged = this.listenerCount('access') > 0;
        if (logged) this.#logOnClose(req, res);
        if (req.rawHeaders.length > 2 * c.maxHeadersCount) return sendBadRequest(res, `more than ${c.maxHeadersCount} header fields`, 431);
        if (this.#health?.matches(req.url)) this.#health.handle(req, res);
        else if (this.#status?.matches(req.url)) void this.#status.handle(req, res);
        else forward(ctx, req, res, logged);
      },
    );
    // One more than allowed, so a request past the bound is seen (and answered 431) rather than
    // silently cut to its first fields, framing headers possibly among the lost.
    server.maxHeadersCount = c.maxHeadersCount + 1;
    server.prependListener('connection', (socket: Socket) => this.#admit(socket));
    server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
      if (this.#refused.has(socket)) return;
      this.#track(socket);
      if (req.rawHeaders.length > 2 * c.maxHeadersCount) return void socket.end(rawResponse(431, `more than ${c.maxHeadersCount} header fields`));
      forwardUpgrade(ctx, req, socket, head);
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      debug('client error: %s', err.code ?? err.message);
      if (!socket.writable || (err.code === 'ECONNRESET' && !(socket as Socket).bytesWritten)) return void socket.destroy();
      socket.end(rawResponse(TOO_LARGE.has(err.code ?? '') ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400));
    });
    this.#server = server;
  }

  /**
   * Counts a new client connection against `maxConnections` (HAProxy `maxconn`). Past it the
   * connection is refused at once, a 503 in HTTP mode and a close in TCP mode, so the ones
   * already open keep their share.
   */
  #admit(socket: Socket): boolean {
    if (this.#open >= this.config.maxConnections) {
      debug('refusing a connection: %d open', this.#open);
      this.#refused.add(socket);
      socket.on('error', () => {});
      if (this.config.mode === 'tcp') socket.destroy();
      else socket.end(rawResponse(503, `more than ${this.config.maxConnections} connections`));
      return false;
    }
    this.#open++;
    socket.once('close', () => this.#open--);
    return true;
  }

  /** Emits one `access` entry when the exchange is over, however it ended. */
  #logOnClose(req: IncomingMessage, res: ServerResponse): void {
    const start = Date.now();
    const t0 = performance.now();
    const bytesBefore = req.socket.bytesWritten;
    res.once('close', () => {
      const entry: AccessEntry = {
        time: new Date(start).toISOString(),
        client: bareAddress(req.socket.remoteAddress),
        method: req.method ?? '',
        // The path only: a query string can carry tokens (the status page's `?token=`).
        path: (req.url ?? '').split('?', 1)[0]!,
        status: res.headersSent ? res.statusCode : 0,
        target: servedBy.get(res) ?? null,
        durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
        bytes: req.socket.bytesWritten - bytesBefore,
      };
      this.emit('access', entry);
    });
  }

  #track(socket: Duplex): void {
    this.#tunnels.add(socket);
    socket.once('close', () => this.#tunnels.delete(socket));
  }

  /** Starts listening and health-checking. Resolves with the bound address. */
  listen(): Promise<{
    /** The bound port. */
    port: number;
    /** The bound address. */
    host: string;
  }> {
    if (this.#closed) return Promise.reject(stateError('the proxy is closed'));
    this.#listening ??= (async () => {
      this.#server.listen(this.config.listen, this.config.host);
      await once(this.#server, 'listening');
      const addr = this.#server.address() as AddressInfo;
      // The loopback-only rule, on the address actually bound (a name such as "localhost" could
      // resolve to anything): without a token, the admin endpoints never face the network.
      if (this.#status && !this.config.status.token && !isLoopback(addr.address)) {
        await new Promise((resolve) => this.#server.close(resolve));
        throw new ConfigError('status.token', `proxy config status.token: expected a token of at least 16 characters: host ${this.config.host} is bound to ${addr.address}, which is not loopback`);
      }
      this.#pool.start();
      debug('listening on %s:%d (%s)', addr.address, addr.port, this.config.mode);
      return { port: addr.port, host: addr.address };
    })();
    return this.#listening;
  }

  /** The bound port once listening. */
  get port(): number | undefined {
    const addr = this.#server.address();
    return addr && typeof addr === 'object' ? addr.port : undefined;
  }

  /** Counters and state of every target, as `status.json` shows them. */
  stats(): ProxyStats {
    return {
      mode: this.config.mode,
      algorithm: this.#pool.algorithm,
      sticky: this.#sticky.mode,
      uptimeMs: Date.now() - this.#started,
      connections: this.#open,
      pid: process.pid,
      errors: { ...this.#errors },
      targets: this.#pool.stats(),
    };
  }

  /** The Prometheus text exposition of the proxy's metrics (also served at `<status path>/metrics`). */
  metrics(): Promise<{
    /** The `Content-Type` to serve the text with. */
    contentType: string;
    /** The exposition. */
    text: string;
  }> {
    return this.#metrics.render();
  }

  /** Registers the proxy's metrics on an app's prom-client registry too (see `metrics()`), labelled `proxy="<name>"`. */
  shareMetrics(registry: Registry, name: string): void {
    this.#metrics.attach(registry, name);
  }

  /** Switches the algorithm for unpinned requests at run time. */
  setAlgorithm(name: string): void {
    this.#pool.setAlgorithm(name);
  }

  /** `true`: the target serves its pinned clients only (HAProxy `drain`); `false`: takes new ones again. */
  setDraining(id: string, draining: boolean): boolean {
    return this.#pool.setDraining(id, draining);
  }

  /**
   * Starts a graceful handover: the health endpoint answers 503 from now on, so whatever
   * routes traffic here (keepalived's check) moves it to the peer, while this proxy keeps
   * serving every request that still reaches it, each answered with `Connection: close` so
   * that clients open their next connection to wherever the traffic went. `close()` later.
   */
  drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    debug('draining');
    this.emit('drain');
  }

  /** Ends a drain: the health endpoint passes again (if the rest is well). */
  undrain(): void {
    this.#draining = false;
  }

  /** Whether this proxy can take traffic, and why not: what the health endpoint serves. */
  health(): ProxyHealth {
    const targets = this.#pool.set.all();
    const targetsUp = targets.filter((ep) => ep.available).length;
    const state: ProxyHealth['state'] = this.#closed ? 'closing' : !this.#server.listening ? 'starting' : this.#draining ? 'draining' : targetsUp === 0 ? 'no-target-up' : 'serving';
    return { ok: state === 'serving', state, targetsUp, targets: targets.length };
  }

  /** The route tag of a target: the value of its route cookie. */
  routeTag(id: string): string | undefined {
    return this.#sticky.tagFor(id);
  }

  /**
   * Stops accepting, lets in-flight requests finish (up to `timeouts.shutdown`), then cuts what
   * is left and stops the health checks. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const server = this.#server;
      if (server.listening) {
        const drained = new Promise<void>((resolve) => server.close(() => resolve()));
        (server as HttpServer).closeIdleConnections?.();
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.config.timeouts.shutdown)));
        await Promise.race([drained, late]);
        clearTimeout(timer);
        (server as HttpServer).closeAllConnections?.();
        for (const t of this.#tunnels) t.destroy();
      }
      await this.#upstreams.close();
      this.#deadlines.close();
      await this.#pool.close();
    })();
    return this.#closed;
  }

  /** Closes the proxy, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Creates a proxy from a config (validated here: a bad value throws `ConfigError` naming the field). */
export function createProxy(config: ProxyConfigInput | ProxyConfig, options: ProxyOptions = {}): Proxy {
  return new Proxy(config, options);
}
