import type { Socket } from 'node:net';
import { pipeline, type Duplex } from 'node:stream';

/**
 * Splices a client socket and a node socket both ways (a WebSocket after its upgrade, a TCP
 * connection) with `stream.pipeline`, which carries back-pressure and an end (FIN) across and
 * listens for errors on both. The tunnel ends once: when both directions have finished, or at
 * the first error or close of either side, or after `idleMs` without traffic on either
 * (`timeouts.tunnel`, as HAProxy `timeout tunnel`). Both sockets are then destroyed and `onEnd`
 * runs a single time, with the first error if there was one.
 */
export function splice(client: Duplex, upstream: Socket, idleMs: number, onEnd: (err: Error | undefined) => void): void {
  let open = 2;
  let ended = false;
  const end = (err: Error | null | undefined) => {
    if (ended) return;
    ended = true;
    client.destroy();
    upstream.destroy();
    onEnd(err ?? undefined);
  };
  const half = (err: NodeJS.ErrnoException | null) => {
    if (err || --open === 0) end(err);
  };
  pipeline(client, upstream, half);
  pipeline(upstream, client, half);
  for (const s of [client as Socket, upstream]) s.setTimeout(idleMs, () => end(new Error(`the tunnel was idle for ${idleMs} ms`)));
}
