import { connect, type Socket } from 'node:net';
import { debuglog } from 'node:util';
import type { ProxyConfig } from './config.js';
import { badGateway, gatewayTimeout, noBackend, type ProxyError } from './errors.js';
import { bareAddress } from './headers.js';
import type { TargetPool } from './pool.js';
import type { RetryPolicy } from './retry-policy.js';
import { splice } from './tunnel.js';

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
  // Until the tunnel is spliced: a client that errs while its node is being chosen.
  const onClientError = (err: Error) => debug('client %s: %s', hashKey, err.message);
  client.on('error', onClientError);
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
    const upstream = connect(endpoint.address);
    const timer = setTimeout(() => upstream.destroy(gatewayTimeout(endpoint.id, 'connect', config.timeouts.connect)), config.timeouts.connect);
    const onClientClose = () => upstream.destroy();
    client.once('close', onClientClose);

    upstream.once('connect', () => {
      clearTimeout(timer);
      upstream.off('error', onConnectError);
      client.off('close', onClientClose).off('error', onClientError);
      const latencyMs = performance.now() - started;
      pool.count(endpoint.id, undefined);
      // Once connected, what breaks the tunnel is not charged to the node (as before a byte of
      // a protocol this mode does not read could say whose fault it was).
      splice(client, upstream, config.timeouts.tunnel, (err) => {
        if (err) debug('tunnel %s <-> %s ended: %s', hashKey, endpoint.id, err.message);
        release({ ok: true, latencyMs });
      });
    });

    const onConnectError = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      client.off('close', onClientClose);
      release({ ok: false, latencyMs: performance.now() - started });
      // Before 'connect' nothing was forwarded: the client's bytes wait, paused.
      if (ctx.retry.mayRetry(n, false)) return attempt(n + 1);
      ctx.onUpstreamError(err.code === 'ERR_SCALEOUT_PROXY_TIMEOUT' ? (err as unknown as ProxyError) : badGateway(endpoint.id, err));
      client.destroy();
    };
    upstream.once('error', onConnectError);
  };

  attempt(0);
}
