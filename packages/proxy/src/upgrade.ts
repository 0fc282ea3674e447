import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import type { Endpoint } from '@scaleout/balancer';
import { badGateway, gatewayTimeout, noBackend, type ProxyError } from './errors.js';
import { clientAddress, malformedRequest, originForm, requestHeaders, responseHeaders } from './headers.js';
import { rawResponse, type ForwardContext } from './http-proxy.js';
import { neverConnected } from './retry-policy.js';
import { splice } from './tunnel.js';

const debug = debuglog('scaleout:proxy-upgrade');

function head(status: number, message: string | undefined, raw: string[]): string {
  let out = `HTTP/1.1 ${status} ${message ?? ''}\r\n`;
  for (let i = 0; i < raw.length; i += 2) out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${out}\r\n`;
}

function refuseSocket(socket: Duplex, err: ProxyError): void {
  if (socket.destroyed) return;
  const body = `${err.status} ${err.status === 503 ? 'Service Unavailable' : err.status === 504 ? 'Gateway Timeout' : 'Bad Gateway'}\n`;
  socket.end(head(err.status, body.slice(4, -1), ['Content-Type', 'text/plain', 'Content-Length', String(body.length), 'Connection', 'close']) + body);
}

/**
 * Passes an `Upgrade` request (WebSocket) to a node chosen like any other request, then splices
 * the two sockets together. A node that answers without upgrading has its answer relayed.
 */
export function forwardUpgrade(ctx: ForwardContext, req: IncomingMessage, socket: Duplex, first: Buffer): void {
  const { config, pool, sticky } = ctx;
  const path = originForm(req.url);
  // Refused before a node is chosen, as on the HTTP path: a malformed handshake is the client's fault.
  if (path === undefined || malformedRequest(req) !== undefined) return void socket.end(rawResponse(400, malformedRequest(req) ?? 'unusable request URL'));
  const hashKey = clientAddress(req, ctx.trust);
  const pinnedTo = sticky.pinned(req.headers);
  const headers = requestHeaders(req, {
    trust: ctx.trust,
    upgrade: true,
    cookie: sticky.mode === 'insert' ? (v) => sticky.stripCookie(v) : undefined,
  });
  ctx.retry.request();
  const tried = new Set<string>();
  socket.on('error', (err) => debug('client socket: %s', err.message));

  const attempt = (n: number, lastError?: ProxyError): void => {
    const endpoint = pool.chooseWithRoom(pinnedTo, hashKey, tried);
    if (!endpoint) {
      const err = lastError ?? noBackend('no node is available for the upgrade');
      ctx.onUpstreamError(err);
      return refuseSocket(socket, err);
    }
    tried.add(endpoint.id);
    send(endpoint, n);
  };

  const send = (endpoint: Endpoint, n: number): void => {
    const release = endpoint.begin();
    const started = performance.now();
    let settled = false;
    const preq = request({ agent: false, ...endpoint.address, method: req.method, path, headers, setHost: false });
    const timer = setTimeout(() => preq.destroy(gatewayTimeout(endpoint.id, 'the upgrade', config.timeouts.server)), config.timeouts.server);
    // A client that leaves during the handshake ends the node's exchange: not the node's fault.
    // Its FIN alone closes nothing (Node's HTTP server allows half-open sockets), so 'end' counts.
    let clientGone = false;
    const onClientClose = () => {
      clientGone = true;
      preq.destroy();
      socket.destroy();
    };
    socket.once('close', onClientClose).once('end', onClientClose);
    const done = () => {
      settled = true;
      clearTimeout(timer);
      socket.off('close', onClientClose).off('end', onClientClose);
    };

    preq.once('upgrade', (pres, upstream, upstreamHead) => {
      done();
      const latencyMs = performance.now() - started;
      ctx.observe(endpoint.id, latencyMs);
      const raw = [...pres.rawHeaders];
      const extra = sticky.insertHeaders(endpoint.id, pinnedTo, undefined);
      if (extra?.['set-cookie']) raw.push('Set-Cookie', extra['set-cookie']);
      pool.count(endpoint.id, pinnedTo);
      if (socket.destroyed) {
        upstream.destroy();
        return release({ ok: true, latencyMs, cancelled: true });
      }
      socket.write(head(pres.statusCode ?? 101, pres.statusMessage, raw));
      if (upstreamHead.length) socket.write(upstreamHead);
      if (first.length) upstream.write(first);
      splice(socket, upstream as Socket, config.timeouts.tunnel, (err) => {
        if (err) debug('tunnel to %s ended: %s', endpoint.id, err.message);
        release({ ok: true, latencyMs, status: 101 });
      });
    });

    preq.once('response', (pres) => {
      done();
      const latencyMs = performance.now() - started;
      ctx.observe(endpoint.id, latencyMs);
      const status = pres.statusCode ?? 502;
      socket.write(head(status, pres.statusMessage, [...responseHeaders(pres.rawHeaders), 'Connection', 'close']));
      pres.pipe(socket);
      pres.once('end', () => release({ ok: status < 500, latencyMs, status }));
      pres.once('error', () => {
        release({ ok: false, latencyMs, status });
        socket.destroy();
      });
    });

    preq.once('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      done();
      if (clientGone) return release({ ok: true, latencyMs: performance.now() - started, cancelled: true });
      release({ ok: false, latencyMs: performance.now() - started, status: 0 });
      if (socket.destroyed) return;
      const code = err.code ?? '';
      const proxyErr = code === 'ERR_SCALEOUT_PROXY_TIMEOUT' ? (err as unknown as ProxyError) : badGateway(endpoint.id, err);
      if (ctx.retry.mayRetry(n, !neverConnected(code))) return attempt(n + 1, proxyErr);
      ctx.onUpstreamError(proxyErr);
      refuseSocket(socket, proxyErr);
    });
    preq.end();
  };

  attempt(0);
}
