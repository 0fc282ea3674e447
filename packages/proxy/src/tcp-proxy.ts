import { connect, type Socket } from 'node:net';
import { debuglog } from 'node:util';
import type { ProxyConfig } from './config.js';
import { badGateway, gatewayTimeout, noBackend, type ProxyError } from './errors.js';
import { bareAddress } from './headers.js';
import type { TargetPool } from './pool.js';
import type { RetryPolicy } from './retry-policy.js';

const debug = debuglog('scaleout:proxy-tcp');

/** What the L4 forwarder needs from the proxy around it. */
export interface TcpContext {
  config: ProxyConfig;
  pool: TargetPool;
  onUpstreamError(err: ProxyError): void;
  /** When another node may be tried (shared with the HTTP and WebSocket paths). */
  retry: RetryPolicy;
}

/**
 * Forwards one client connection to a node (L4). Only the source address is known here, so
 * stickiness can only be `ip-hash`: cookies live inside HTTP, which this mode never reads.
 * The client's bytes wait (paused) until the node accepts, so a refused connect is retried on
 * another node without losing anything.
 */
export function forwardTcp(ctx: TcpContext, client: Socket): void {
  const { config, pool } = ctx;
  const hashKey = bareAddress(client.remoteAddress);
  ctx.retry.request();
  const tried = new Set<string>();
  client.pause();
  client.on('error', (err) => debug('client %s: %s', hashKey, err.message));
  client.setTimeout(config.timeouts.tunnel, () => client.destroy());

  const attempt = (n: number): void => {
    if (client.destroyed) return;
    const endpoint = pool.chooseWithRoom(undefined, hashKey, tried);
    if (!endpoint) {
      ctx.onUpstreamError(noBackend('no node is available for a TCP connection'));
      client.destroy();
      return;
    }
    tried.add(endpoint.id);
    const release = endpoint.begin();
    const started = performance.now();
    const upstream = connect({ host: endpoint.url.hostname, port: Number(endpoint.url.port || 80) });
    const timer = setTimeout(() => upstream.destroy(gatewayTimeout(endpoint.id, 'connect', config.timeouts.connect)), config.timeouts.connect);
    const onClientClose = () => upstream.destroy();
    client.once('close', onClientClose);

    upstream.once('connect', () => {
      clearTimeout(timer);
      const latencyMs = performance.now() - started;
      upstream.setTimeout(config.timeouts.tunnel, () => upstream.destroy());
      upstream.on('error', (err) => debug('node %s: %s', endpoint.id, err.message));
      client.pipe(upstream).pipe(client);
      pool.count(endpoint.id, undefined);
      const close = () => {
        client.destroy();
        upstream.destroy();
        release({ ok: true, latencyMs });
      };
      client.once('close', close);
      upstream.once('close', close);
    });

    upstream.once('error', (err: NodeJS.ErrnoException) => {
      if (upstream.readyState === 'open') return;
      clearTimeout(timer);
      client.off('close', onClientClose);
      release({ ok: false, latencyMs: performance.now() - started });
      // Before 'connect' nothing was forwarded: the client's bytes wait, paused.
      if (ctx.retry.mayRetry(n, false)) return attempt(n + 1);
      ctx.onUpstreamError(err.code === 'ERR_SCALEOUT_PROXY_TIMEOUT' ? (err as unknown as ProxyError) : badGateway(endpoint.id, err));
      client.destroy();
    });
  };

  attempt(0);
}
