import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { debuglog } from 'node:util';
import type { Endpoint, Outcome } from '@scaleout/balancer';
import type { ProxyConfig } from './config.js';
import { badGateway, gatewayTimeout, noBackend, ProxyError } from './errors.js';
import { clientAddress, hasBody, malformedRequest, originForm, requestHeaders, responseHeaders, type ForwardInfo, type TrustFunction } from './headers.js';
import { Deadlines, Expiring } from './deadlines.js';
import { LazyBody } from './lazy-body.js';
import type { TargetPool } from './pool.js';
import type { Stickiness } from './sticky.js';
import { neverConnected, type RetryPolicy } from './retry-policy.js';
import type { Upstreams } from './upstreams.js';

const debug = debuglog('scaleout:proxy-http');

const REASONS: Record<number, string> = {
  502: 'Bad Gateway: the node failed to answer',
  503: 'Service Unavailable: no node can take the request',
  504: 'Gateway Timeout: the node did not answer in time',
};

/** Answers a request the proxy cannot serve with a short plain-text body. */
export function sendError(res: ServerResponse, err: ProxyError): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = `${err.status} ${REASONS[err.status]}\n`;
  const headers: Record<string, string | number> = { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' };
  if (err.status === 503) headers['retry-after'] = 1;
  res.writeHead(err.status, headers).end(body);
}

/** What the forwarding code needs from the proxy around it. */
export interface ForwardContext {
  config: ProxyConfig;
  pool: TargetPool;
  sticky: Stickiness;
  upstreams: Upstreams;
  /** When another node may be tried (shared with the WebSocket and TCP paths). */
  retry: RetryPolicy;
  /** `trustProxy`, compiled once. */
  trust: TrustFunction;
  /** True while shutting down: answers carry `Connection: close`. */
  closing(): boolean;
  /** Reports an upstream failure (the proxy re-emits it). */
  onUpstreamError(err: ProxyError): void;
  /** A response head came from `targetId` after `ms` (the latency histogram). */
  observe(targetId: string, ms: number): void;
  /** The waits for response heads (`timeouts.server`). */
  deadlines: Deadlines;
}

/** Which target answered a response: read by the access log once the response is over. */
export const servedBy = new WeakMap<ServerResponse, string>();

// undici's codes for "the answer did not come in time".
const TIMEOUTS = new Set(['UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

// undici's codes for a request it refuses to send as given (a header it cannot carry, a body
// shorter than its Content-Length): the client's fault, answered 400 and never charged to a node.
const REQUEST_FAULTS = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH']);

/** Why the request cannot be forwarded at all (answered 400 before a node is chosen), or `undefined`. */
export function refusal(req: IncomingMessage): string | undefined {
  return originForm(req.url) === undefined ? 'unusable request URL' : malformedRequest(req);
}

/** The statuses of the client's faults that the proxy answers itself. */
export const CLIENT_FAULTS = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' } as const;

/**
 * A whole `Connection: close` response with a short text body, for a socket that the proxy
 * answers before (or instead of) Node's HTTP server: a refused upgrade, a parser error, a
 * connection past `maxConnections`.
 */
export function rawResponse(status: keyof typeof CLIENT_FAULTS | 503, why?: string): string {
  const reason = status === 503 ? 'Service Unavailable' : CLIENT_FAULTS[status];
  const body = `${status} ${reason}${why ? `: ${why}` : ''}\n`;
  const retry = status === 503 ? 'Retry-After: 1\r\n' : '';
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${retry}Connection: close\r\n\r\n${body}`;
}

/** Answers a malformed request with 400 and closes the connection (the rest of it cannot be trusted). */
export function sendBadRequest(res: ServerResponse, why: string, status: keyof typeof CLIENT_FAULTS = 400): void {
  if (res.headersSent || res.destroyed) return void res.destroy();
  const body = `${status} ${CLIENT_FAULTS[status]}: ${why}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
}

// The reason an exchange is aborted for the client's sake (it left or went quiet); what it ends
// with is never charged to the node, so the text is for debugging only.
const clientLeft = () => new Error('the client left or stopped sending');

// The first try excludes no node: one shared empty set rather than one per request.
const NONE_TRIED: ReadonlySet<string> = new Set();

// What `requestHeaders` needs from a context, made once per context rather than per request.
const forwardInfos = new WeakMap<ForwardContext, ForwardInfo>();

function forwardInfo(ctx: ForwardContext): ForwardInfo {
  let info = forwardInfos.get(ctx);
  if (!info) {
    const { sticky } = ctx;
    info = { trust: ctx.trust, cookie: sticky.mode === 'insert' ? (v) => sticky.stripCookie(v) : undefined };
    forwardInfos.set(ctx, info);
  }
  return info;
}

/**
 * Forwards one HTTP request to a node, retrying once on another node after a connect failure.
 * `trackTarget`: record which target answered in `servedBy` (the access log reads it).
 */
export function forward(ctx: ForwardContext, req: IncomingMessage, res: ServerResponse, trackTarget = false): void {
  const why = refusal(req);
  if (why !== undefined) return sendBadRequest(res, why);
  new Exchange(ctx, req, res, trackTarget).attempt(0);
}

// The exchange a client's request and response belong to, for the two listeners below: shared
// functions, where a closure (or a bound method) per request would be allocated for each.
const EXCHANGE = Symbol('exchange');
type Carrying = (IncomingMessage | ServerResponse) & { [EXCHANGE]?: Exchange };

function responseClosed(this: ServerResponse): void {
  if (!this.writableFinished) (this as Carrying)[EXCHANGE]?.leave();
}

function requestBroke(this: IncomingMessage): void {
  (this as Carrying)[EXCHANGE]?.leave();
}

/**
 * One client request and its tries. The per-request state lives in this object and in one
 * `Attempt` per try rather than in closures: a request is the proxy's hot path, and a closure
 * per callback (a dozen of them) cost more allocation and collection than the forwarding itself.
 */
class Exchange {
  readonly ctx: ForwardContext;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly path: string;
  readonly pinnedTo: string | undefined;
  readonly headers: string[];
  readonly withBody: boolean;
  readonly trackTarget: boolean;
  readonly #hashKey: string;
  /** Targets tried so far, made on the first retry. */
  #tried: Set<string> | undefined;
  /** The try in progress. */
  current: Attempt | undefined;
  // Set when the client left, broke its body off, or went quiet: what follows is its doing, and
  // whatever the node's exchange ends with is never charged to the node.
  clientGone = false;
  clientStalled = false;

  constructor(ctx: ForwardContext, req: IncomingMessage, res: ServerResponse, trackTarget: boolean) {
    this.ctx = ctx;
    this.req = req;
    this.res = res;
    this.trackTarget = trackTarget;
    this.path = originForm(req.url)!;
    // Only ip-hash reads the client address; the other algorithms skip the X-Forwarded-For walk.
    this.#hashKey = ctx.pool.algorithm === 'ip-hash' ? clientAddress(req, ctx.trust) : '';
    this.pinnedTo = ctx.sticky.pinned(req.headers);
    this.headers = requestHeaders(req, forwardInfo(ctx));
    this.withBody = hasBody(req);
    ctx.retry.request();
    (res as Carrying)[EXCHANGE] = this;
    if (this.withBody) {
      (req as Carrying)[EXCHANGE] = this;
      req.on('error', requestBroke); // a client that vanishes mid-body
    }
    res.on('close', responseClosed);
  }

  leave(): void {
    this.clientGone = true;
    this.current?.abort();
  }

  attempt(n: number, lastError?: ProxyError): void {
    if (n > 0) (this.#tried ??= new Set()).add(this.current!.endpoint.id);
    const endpoint = this.ctx.pool.choose(this.pinnedTo, this.#hashKey, this.#tried ?? NONE_TRIED);
    if (!endpoint) {
      // Nothing left to retry on: the client hears about the failure it met, not "no node".
      const err = lastError ?? noBackend('no node is available');
      this.ctx.onUpstreamError(err);
      sendError(this.res, err);
      return;
    }
    this.send(endpoint, n, false);
  }

  send(endpoint: Endpoint, n: number, resent: boolean): void {
    const attempt = new Attempt(this, endpoint, n, resent);
    this.current = attempt;
    this.ctx.upstreams.for(endpoint).dispatch({ path: this.path, method: this.req.method as Dispatcher.HttpMethod, headers: this.headers, body: attempt.body }, attempt);
  }
}

/** One try of an exchange on one node: undici's handler for it. */
class Attempt extends Expiring implements Dispatcher.DispatchHandler {
  readonly endpoint: Endpoint;
  readonly body: LazyBody | null;
  readonly #ex: Exchange;
  readonly #n: number;
  readonly #resent: boolean;
  readonly #release: (outcome: Outcome) => void;
  readonly #started = performance.now();
  #controller: Dispatcher.DispatchController | undefined;
  #answered = false;
  #status = 0;
  #latencyMs = 0;
  #late: ProxyError | undefined;
  // A client that stops reading the response: cut after `timeouts.send` (nginx `send_timeout`).
  #sendTimer: NodeJS.Timeout | undefined;
  /** The client's 'drain' listener, added the first time the client falls behind. */
  #onDrain: (() => void) | undefined;

  constructor(ex: Exchange, endpoint: Endpoint, n: number, resent: boolean) {
    super();
    this.#ex = ex;
    this.endpoint = endpoint;
    this.#n = n;
    this.#resent = resent;
    this.#release = endpoint.begin();
    const { config } = ex.ctx;
    if (ex.withBody) {
      this.body = new LazyBody(ex.req, { client: config.timeouts.body, node: config.timeouts.server }, (who) => {
        if (who === 'node') return this.timeOut('reading the request body');
        ex.clientStalled = true;
        this.abort();
      });
      this.body.once('end', () => this.#startTimer(performance.now()));
    } else {
      this.body = null;
      this.#startTimer(this.#started);
    }
  }

  /** Aborts the node's exchange, for the client's sake unless `err` says otherwise. */
  abort(err?: Error): void {
    this.#controller?.abort(err ?? clientLeft());
  }

  timeOut(what: string): void {
    this.#late = gatewayTimeout(this.endpoint.id, what, this.#ex.ctx.config.timeouts.server);
    this.abort(this.#late);
  }

  // The wait for the response head is timed here rather than by undici, whose timer restarts
  // late on a reused connection (a 504 could come before `timeouts.server` had passed). It
  // starts once the request body has been sent: a slow upload is not a slow node.
  #startTimer(now: number): void {
    if (!this.#answered && !this.#late) this.#ex.ctx.deadlines.add(this, now);
  }

  expire(): void {
    this.timeOut('the response');
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    const ex = this.#ex;
    if (ex.clientGone || ex.clientStalled || this.#late) controller.abort(this.#late ?? clientLeft());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, parsed: Record<string, string | string[] | undefined>, statusText?: string): void {
    if (statusCode < 200) return; // 1xx: Node's server speaks for itself (100-continue)
    const ex = this.#ex;
    ex.ctx.deadlines.remove(this);
    const { ctx, res, pinnedTo } = ex;
    const id = this.endpoint.id;
    this.#answered = true;
    this.#status = statusCode;
    this.#latencyMs = performance.now() - this.#started;
    ctx.observe(id, this.#latencyMs);
    if (ex.trackTarget) servedBy.set(res, id);
    // The raw list keeps the node's order, case and repeated fields; the parsed object is
    // only a fallback for a dispatcher that does not give it.
    const out = responseHeaders(rawHeaderList(controller.rawHeaders ?? parsed));
    if (ctx.sticky.mode === 'insert') addCookie(out, ctx.sticky.insertHeaders(id, pinnedTo, headerValue(out, 'cache-control')));
    ctx.pool.count(id, pinnedTo);
    if (ctx.closing()) out.push('Connection', 'close');
    try {
      res.writeHead(statusCode, statusText, out);
    } catch (err) {
      // A node's header the client side cannot carry (invalid characters): a bad answer.
      controller.pause();
      controller.abort(badGateway(id, err));
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const { res } = this.#ex;
    if (res.write(chunk)) return;
    controller.pause(); // resumed by the client's 'drain'
    if (!this.#onDrain) {
      this.#onDrain = () => {
        clearTimeout(this.#sendTimer);
        controller.resume();
      };
      res.on('drain', this.#onDrain);
    }
    this.#sendTimer = setTimeout(() => res.destroy(), this.#ex.ctx.config.timeouts.send);
  }

  onResponseEnd(): void {
    const { res } = this.#ex;
    this.#stopSending();
    res.end();
    this.#release({ ok: this.#status < 500, latencyMs: this.#latencyMs, status: this.#status });
  }

  #stopSending(): void {
    clearTimeout(this.#sendTimer);
    if (this.#onDrain) this.#ex.res.off('drain', this.#onDrain);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const err = error as Error & { code?: string };
    const ex = this.#ex;
    const { req, res, ctx } = ex;
    const { config } = ctx;
    const { endpoint } = this;
    const release = this.#release;
    const n = this.#n;
    ctx.deadlines.remove(this);
    this.#stopSending();
    const ms = this.#latencyMs || performance.now() - this.#started;
    if (ex.clientGone) return release({ ok: true, latencyMs: ms, cancelled: true });
    if (ex.clientStalled) {
      debug('%s %s: the client sent no body for %d ms', req.method, req.url, config.timeouts.body);
      release({ ok: true, latencyMs: ms, cancelled: true });
      return sendBadRequest(res, 'the request body stopped arriving', 408);
    }
    if (REQUEST_FAULTS.has(err.code ?? '') && !this.#answered) {
      debug('%s %s refused as a client fault: %s', req.method, req.url, err.message);
      release({ ok: true, latencyMs: ms, cancelled: true });
      sendBadRequest(res, 'the request cannot be forwarded as sent');
      if (ex.withBody && !req.complete) req.resume();
      return;
    }
    if (this.#answered && res.headersSent) {
      // The node broke off mid-response: the client must not see a clean end.
      debug('response from %s broke: %s', endpoint.id, err.message);
      release({ ok: false, latencyMs: ms, status: this.#status });
      return void res.destroy();
    }
    release({ ok: false, latencyMs: ms, status: 0 });
    const code = err.code ?? '';
    debug('%s %s to %s failed (%s), attempt %d', req.method, req.url, endpoint.id, code, n + 1);
    const bodyUntouched = !this.body?.started;
    // A kept-alive connection the node had closed meanwhile says nothing about the node:
    // resend once, when no byte of a body could have been sent.
    if (code === 'UND_ERR_SOCKET' && bodyUntouched && !this.#resent) return ex.send(endpoint, n, true);
    const proxyErr = err instanceof ProxyError ? err : TIMEOUTS.has(code) ? gatewayTimeout(endpoint.id, code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect' : 'a pause in the response', code === 'UND_ERR_CONNECT_TIMEOUT' ? config.timeouts.connect : config.timeouts.server) : badGateway(endpoint.id, err);
    if (ctx.retry.mayRetry(n, !(neverConnected(code) && bodyUntouched))) return ex.attempt(n + 1, proxyErr);
    ctx.onUpstreamError(proxyErr);
    sendError(res, proxyErr);
    if (ex.withBody && !req.complete) req.resume(); // drain what the client still sends, then let the socket go
  }
}

/** The node's response head as a flat `[name, value, …]` list (strings or undici's bytes). */
function rawHeaderList(raw: NonNullable<Dispatcher.DispatchController['rawHeaders']>): readonly (string | Buffer)[] {
  if (Array.isArray(raw)) return raw as (string | Buffer)[];
  const out: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (Array.isArray(v)) for (const one of v) out.push(k, one);
    else if (v !== undefined) out.push(k, String(v));
  }
  return out;
}

function headerValue(flat: string[], lower: string): string | undefined {
  for (let i = 0; i < flat.length; i += 2) if (flat[i]!.length === lower.length && flat[i]!.toLowerCase() === lower) return flat[i + 1];
  return undefined;
}

function addCookie(out: string[], extra: Record<string, string> | undefined): void {
  if (!extra) return;
  if (extra['cache-control']) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (out[i]!.toLowerCase() === 'cache-control') out.splice(i, 2);
  }
  for (const [k, v] of Object.entries(extra)) out.push(k, v);
}
