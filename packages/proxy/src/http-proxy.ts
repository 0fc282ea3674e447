import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { debuglog } from 'node:util';
import type { Endpoint } from '@scaleout/balancer';
import type { ProxyConfig } from './config.js';
import { badGateway, gatewayTimeout, noBackend, ProxyError } from './errors.js';
import { clientAddress, hasBody, malformedRequest, originForm, requestHeaders, responseHeaders, type TrustFunction } from './headers.js';
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
}

/** Which target answered a response: read by the access log once the response is over. */
export const servedBy = new WeakMap<ServerResponse, string>();

// Bytes a client must send within `timeouts.body` for its upload to count as moving.
const BODY_PROGRESS = 1024;

/** Who a request body is waiting on: the client to send more, or the node to read more. */
type Waiting = 'client' | 'node';

/**
 * The request body as the node's connection reads it. The client's stream is only touched once
 * undici starts writing the body, which it does after the connection is up: so a connect
 * failure leaves the body unread and the request can go to another node. Destroying this
 * wrapper (undici does on errors) detaches it without closing the client's connection.
 *
 * While it streams, one timer watches whichever side the body is waiting on: the client
 * (`timeouts.body`, as nginx `client_body_timeout`) or the node, which stopped reading
 * (`timeouts.server`). `onStall` says which one went quiet, so the right one is blamed.
 * A client only counts as sending once it has brought `BODY_PROGRESS` bytes since the timer was
 * last set (as Apache `RequestReadTimeout body=…,MinRate=…`): a trickle of one byte a second
 * would hold a node's connection for ever under a plain idle timer.
 */
class LazyBody extends Readable {
  started = false;
  readonly #src: IncomingMessage;
  readonly #limits: Record<Waiting, number>;
  readonly #onStall: (who: Waiting) => void;
  #waiting: Waiting | undefined;
  #timer: NodeJS.Timeout | undefined;
  #progress = 0;
  readonly #onData = (chunk: Buffer) => {
    this.#progress += chunk.length;
    if (this.push(chunk)) {
      if (this.#progress >= BODY_PROGRESS) this.#wait('client');
      return;
    }
    this.#src.pause();
    this.#wait('node');
  };
  readonly #onEnd = () => {
    this.#stop();
    this.push(null);
  };
  readonly #onError = (err: Error) => this.destroy(err);

  constructor(src: IncomingMessage, limits: Record<Waiting, number>, onStall: (who: Waiting) => void) {
    super();
    this.#src = src;
    this.#limits = limits;
    this.#onStall = onStall;
  }

  #wait(who: Waiting): void {
    this.#progress = 0;
    if (this.#waiting === who) return void this.#timer!.refresh();
    clearTimeout(this.#timer);
    this.#waiting = who;
    this.#timer = setTimeout(() => this.#onStall(who), this.#limits[who]);
  }

  #stop(): void {
    clearTimeout(this.#timer);
    this.#waiting = undefined;
  }

  override _read(): void {
    if (!this.started) {
      this.started = true;
      this.#src.on('data', this.#onData).once('end', this.#onEnd).once('error', this.#onError);
    }
    if (this.#src.readableEnded) return;
    if (this.#waiting !== 'client') this.#wait('client'); // not on every read: a trickle must not refresh it
    this.#src.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#stop();
    this.#src.off('data', this.#onData).off('end', this.#onEnd).off('error', this.#onError);
    cb(err);
  }
}

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

function noop(): void {}

// The reason an exchange is aborted for the client's sake (it left or went quiet); what it ends
// with is never charged to the node, so the text is for debugging only.
const clientLeft = () => new Error('the client left or stopped sending');

/** Forwards one HTTP request to a node, retrying once on another node after a connect failure. */
export function forward(ctx: ForwardContext, req: IncomingMessage, res: ServerResponse): void {
  const { config, pool, sticky } = ctx;
  const why = refusal(req);
  if (why !== undefined) return sendBadRequest(res, why);
  const path = originForm(req.url)!;
  // Only ip-hash reads the client address; the other algorithms skip the X-Forwarded-For walk.
  const hashKey = pool.algorithm === 'ip-hash' ? clientAddress(req, ctx.trust) : '';
  const pinnedTo = sticky.pinned(req.headers);
  const headers = requestHeaders(req, {
    trust: ctx.trust,
    cookie: sticky.mode === 'insert' ? (v) => sticky.stripCookie(v) : undefined,
  });
  const withBody = hasBody(req);
  ctx.retry.request();
  const tried = new Set<string>();
  let abortCurrent: ((err?: Error) => void) | undefined;
  // Set when the client left, broke its body off, or went quiet: what follows is its doing, and
  // whatever the node's exchange ends with is never charged to the node.
  let clientGone = false;
  let clientStalled = false;
  const leave = () => {
    clientGone = true;
    abortCurrent?.();
  };
  if (withBody) req.on('error', leave); // a client that vanishes mid-body
  res.once('close', () => {
    if (!res.writableFinished) leave();
  });

  const attempt = (n: number, lastError?: ProxyError): void => {
    const endpoint = pool.choose(pinnedTo, hashKey, tried);
    if (!endpoint) {
      // Nothing left to retry on: the client hears about the failure it met, not "no node".
      const err = lastError ?? noBackend('no node is available');
      ctx.onUpstreamError(err);
      sendError(res, err);
      return;
    }
    tried.add(endpoint.id);
    send(endpoint, n, false);
  };

  const send = (endpoint: Endpoint, n: number, resent: boolean): void => {
    const release = endpoint.begin();
    const started = performance.now();
    let answered = false;
    let status = 0;
    let latencyMs = 0;
    let resume = noop;
    // A client that stops reading the response: cut after `timeouts.send` (nginx `send_timeout`).
    let sendTimer: NodeJS.Timeout | undefined;
    const onDrain = () => {
      clearTimeout(sendTimer);
      resume();
    };
    let late: ProxyError | undefined;
    const timeOut = (what: string) => {
      late = gatewayTimeout(endpoint.id, what, config.timeouts.server);
      abortCurrent?.(late);
    };
    // The wait for the response head is timed here rather than by undici, whose timer restarts
    // late on a reused connection (a 504 could come before `timeouts.server` had passed). It
    // starts once the request body has been sent: a slow upload is not a slow node.
    let timer: NodeJS.Timeout | undefined;
    const startTimer = () => {
      if (!answered && !late) timer = setTimeout(timeOut, config.timeouts.server, 'the response');
    };
    const body = withBody
      ? new LazyBody(req, { client: config.timeouts.body, node: config.timeouts.server }, (who) => {
          if (who === 'node') return timeOut('reading the request body');
          clientStalled = true;
          abortCurrent?.();
        })
      : null;
    if (body) body.once('end', startTimer);
    else startTimer();

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        abortCurrent = (err) => controller.abort(err ?? clientLeft());
        if (clientGone || clientStalled || late) controller.abort(late ?? clientLeft());
      },
      onResponseStart(controller, statusCode, parsed, statusText) {
        if (statusCode < 200) return; // 1xx: Node's server speaks for itself (100-continue)
        clearTimeout(timer);
        answered = true;
        status = statusCode;
        latencyMs = performance.now() - started;
        ctx.observe(endpoint.id, latencyMs);
        servedBy.set(res, endpoint.id);
        resume = () => controller.resume();
        // The raw list keeps the node's order, case and repeated fields; the parsed object is
        // only a fallback for a dispatcher that does not give it.
        const out = responseHeaders(rawHeaderList(controller.rawHeaders ?? parsed));
        if (sticky.mode === 'insert') addCookie(out, sticky.insertHeaders(endpoint.id, pinnedTo, headerValue(out, 'cache-control')));
        pool.count(endpoint.id, pinnedTo);
        if (ctx.closing()) out.push('Connection', 'close');
        try {
          res.writeHead(status, statusText, out);
        } catch (err) {
          // A node's header the client side cannot carry (invalid characters): a bad answer.
          controller.pause();
          controller.abort(badGateway(endpoint.id, err));
          return;
        }
        res.on('drain', onDrain);
      },
      onResponseData(controller, chunk) {
        if (res.write(chunk)) return;
        controller.pause(); // resumed by the client's 'drain'
        sendTimer = setTimeout(() => res.destroy(), config.timeouts.send);
      },
      onResponseEnd() {
        clearTimeout(sendTimer);
        res.off('drain', onDrain);
        res.end();
        release({ ok: status < 500, latencyMs, status });
      },
      onResponseError(_controller, error) {
        const err = error as Error & { code?: string };
        clearTimeout(timer);
        clearTimeout(sendTimer);
        res.off('drain', onDrain);
        const ms = latencyMs || performance.now() - started;
        if (clientGone) return release({ ok: true, latencyMs: ms, cancelled: true });
        if (clientStalled) {
          debug('%s %s: the client sent no body for %d ms', req.method, req.url, config.timeouts.body);
          release({ ok: true, latencyMs: ms, cancelled: true });
          return sendBadRequest(res, 'the request body stopped arriving', 408);
        }
        if (REQUEST_FAULTS.has(err.code ?? '') && !answered) {
          debug('%s %s refused as a client fault: %s', req.method, req.url, err.message);
          release({ ok: true, latencyMs: ms, cancelled: true });
          sendBadRequest(res, 'the request cannot be forwarded as sent');
          if (withBody && !req.complete) req.resume();
          return;
        }
        if (answered && res.headersSent) {
          // The node broke off mid-response: the client must not see a clean end.
          debug('response from %s broke: %s', endpoint.id, err.message);
          release({ ok: false, latencyMs: ms, status });
          return void res.destroy();
        }
        release({ ok: false, latencyMs: ms, status: 0 });
        const code = err.code ?? '';
        debug('%s %s to %s failed (%s), attempt %d', req.method, req.url, endpoint.id, code, n + 1);
        const bodyUntouched = !body?.started;
        // A kept-alive connection the node had closed meanwhile says nothing about the node:
        // resend once, when no byte of a body could have been sent.
        if (code === 'UND_ERR_SOCKET' && bodyUntouched && !resent) return send(endpoint, n, true);
        const proxyErr = err instanceof ProxyError ? err : TIMEOUTS.has(code) ? gatewayTimeout(endpoint.id, code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect' : 'a pause in the response', code === 'UND_ERR_CONNECT_TIMEOUT' ? config.timeouts.connect : config.timeouts.server) : badGateway(endpoint.id, err);
        if (ctx.retry.mayRetry(n, !(neverConnected(code) && bodyUntouched))) return attempt(n + 1, proxyErr);
        ctx.onUpstreamError(proxyErr);
        sendError(res, proxyErr);
        if (withBody && !req.complete) req.resume(); // drain what the client still sends, then let the socket go
      },
    };
    ctx.upstreams.for(endpoint).dispatch({ path, method: req.method as Dispatcher.HttpMethod, headers, body }, handler);
  };

  attempt(0);
}

/** The node's response head as a flat `[name, value, …]` list of strings. */
function rawHeaderList(raw: NonNullable<Dispatcher.DispatchController['rawHeaders']>): string[] {
  if (Array.isArray(raw)) return raw.map((b) => (typeof b === 'string' ? b : b.toString('latin1')));
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
