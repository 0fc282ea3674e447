import { Agent, request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { debuglog } from 'node:util';
import type { Endpoint } from '@scaleout/balancer';
import type { ProxyConfig } from './config.js';
import { badGateway, gatewayTimeout, noBackend, type ProxyError } from './errors.js';
import { clientAddress, hasBody, requestHeaders, responseHeaders } from './headers.js';
import type { TargetPool } from './pool.js';
import type { Stickiness } from './sticky.js';

const debug = debuglog('scaleout:proxy-http');

// Errors raised before a single byte reached the node: safe to try another node.
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'ERR_SCALEOUT_PROXY_TIMEOUT']);

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
  agent: Agent;
  /** True while shutting down: answers carry `Connection: close`. */
  closing(): boolean;
  /** Reports an upstream failure (the proxy re-emits it). */
  onUpstreamError(err: ProxyError): void;
}

// An idle pooled connection is closed before Node's default server keepAliveTimeout (5 s), so the
// proxy rarely reuses a connection that the node is closing at the same moment.
const IDLE_UPSTREAM_MS = 4000;

/** The keep-alive connection pool to the nodes. */
export function createAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 256, scheduling: 'lifo', timeout: IDLE_UPSTREAM_MS });
}

function noop(): void {}

/** Forwards one HTTP request to a node, retrying once on another node after a connect failure. */
export function forward(ctx: ForwardContext, req: IncomingMessage, res: ServerResponse): void {
  const { config, pool, sticky } = ctx;
  // Only ip-hash reads the client address; the other algorithms skip the X-Forwarded-For walk.
  const hashKey = pool.algorithm === 'ip-hash' ? clientAddress(req, config.trustProxy) : '';
  const pinnedTo = sticky.pinned(req.headers);
  const headers = requestHeaders(req, {
    trust: config.trustProxy,
    cookie: sticky.mode === 'insert' ? (v) => sticky.stripCookie(v) : undefined,
  });
  const withBody = hasBody(req);
  if (withBody) req.on('error', noop); // a client that vanishes mid-body: the 'close' below cleans up
  const tried = new Set<string>();
  let current: ClientRequest | undefined;
  let clientGone = false;
  res.once('close', () => {
    if (res.writableFinished) return;
    clientGone = true;
    current?.destroy();
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
    let connected = false;
    let answered = false;
    const preq = request({
      agent: ctx.agent,
      host: endpoint.url.hostname,
      port: endpoint.url.port || 80,
      method: req.method,
      path: req.url,
      headers,
      setHost: false,
    });
    current = preq;
    const startBody = () => {
      connected = true;
      // The body is only read once the node accepted the connection, so a refused connection
      // leaves it untouched for the retry (HAProxy `option redispatch` + `retries`).
      if (withBody) req.pipe(preq);
      else preq.end();
    };
    preq.once('socket', (socket) => {
      if (!socket.connecting) return startBody();
      const timer = setTimeout(() => preq.destroy(gatewayTimeout(endpoint.id, 'connect', config.timeouts.connect)), config.timeouts.connect);
      socket.once('connect', () => {
        clearTimeout(timer);
        startBody();
      });
      socket.once('close', () => clearTimeout(timer));
    });
    preq.setTimeout(config.timeouts.server, () => preq.destroy(gatewayTimeout(endpoint.id, answered ? 'a pause in the response' : 'the response', config.timeouts.server)));

    preq.once('response', (pres) => {
      answered = true;
      const status = pres.statusCode ?? 502;
      const latencyMs = performance.now() - started;
      const out = responseHeaders(pres.rawHeaders);
      const extra = sticky.insertHeaders(endpoint.id, pinnedTo, pres.headers['cache-control']);
      if (extra) {
        for (let i = out.length - 2; i >= 0; i -= 2) if (out[i]!.toLowerCase() === 'cache-control' && extra['cache-control']) out.splice(i, 2);
        for (const [k, v] of Object.entries(extra)) out.push(k, v);
      }
      pool.count(endpoint.id, pinnedTo);
      if (ctx.closing()) out.push('Connection', 'close');
      try {
        res.writeHead(status, pres.statusMessage, out);
      } catch (err) {
        // A node's header the client side cannot carry (invalid characters): a bad answer.
        release({ ok: false, latencyMs, status: 502 });
        pres.destroy();
        return sendError(res, badGateway(endpoint.id, err));
      }
      // pipe(), not pipeline(): pipeline's AbortController and AbortError cost more than the
      // rest of a small exchange; the three listeners below cover what it would.
      pres.pipe(res);
      pres.once('end', () => release({ ok: status < 500, latencyMs, status }));
      pres.once('error', (err) => {
        // The node broke off mid-response: the client must not see a clean end.
        if (clientGone) release({ ok: true, latencyMs, cancelled: true });
        else {
          debug('response from %s broke: %s', endpoint.id, err.message);
          release({ ok: false, latencyMs, status });
        }
        res.destroy();
      });
    });

    preq.once('error', (err: NodeJS.ErrnoException) => {
      if (answered) return; // the response's own 'error' reports it
      const latencyMs = performance.now() - started;
      if (clientGone) return release({ ok: true, latencyMs, cancelled: true });
      release({ ok: false, latencyMs, status: 0 });
      const code = err.code ?? '';
      debug('%s %s to %s failed (%s), attempt %d', req.method, req.url, endpoint.id, code, n + 1);
      // A kept-alive socket the node had closed meanwhile says nothing about the node: resend
      // once on a fresh connection, when there is no body that could have been half sent.
      if (preq.reusedSocket && code === 'ECONNRESET' && !withBody && !resent) return send(endpoint, n, true);
      const proxyErr = code === 'ERR_SCALEOUT_PROXY_TIMEOUT' ? (err as unknown as ProxyError) : badGateway(endpoint.id, err);
      if (!connected && CONNECT_ERRORS.has(code) && n < config.retries) return attempt(n + 1, proxyErr);
      ctx.onUpstreamError(proxyErr);
      if (withBody) req.unpipe(preq);
      sendError(res, proxyErr);
      if (withBody && !req.complete) req.resume(); // drain what the client still sends, then let the socket go
    });
  };

  attempt(0);
}
