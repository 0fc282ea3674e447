/**
 * Entry point of a server child process, started by `startServerChild()` in `./server.ts`;
 * not meant to be run by hand.
 *
 * The server under test runs in its own process so that the load generator does not take its
 * CPU. `process.argv[2]` is a JSON {@link ChildSpec}: the child imports `module`, calls its
 * export `export` with `options` and serves what that returns (a request listener, or
 * `{ listener, close }`) on 127.0.0.1 at a free port.
 *
 * IPC protocol (parent ⇄ child):
 * - child → `{ type: 'listening', port }` once it accepts connections, or `{ type: 'failed', error }`;
 * - `{ type: 'cpu' }` → `{ type: 'cpu', user, system, rss, requests, atUs }`: µs of CPU since start,
 *   resident bytes, requests received so far, and the monotonic clock in µs (the clock of
 *   `--cpu-prof` sample timestamps, so a profile can be cut to a measured window);
 * - `{ type: 'close' }` → closes the server and the app, then exits 0, so that `--cpu-prof`
 *   writes its profile. A parent that goes away (IPC `disconnect`) ends the child too.
 */
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

/** What a child serves: the module to import, the factory to call and its options. */
export interface ChildSpec {
  /** Absolute path or `file:` URL of the module. */
  module: string;
  /** Name of the exported factory. @default "default" */
  export?: string;
  /** JSON-serialisable options handed to the factory. */
  options?: unknown;
}

/** What a factory may return. */
export type ServedApp = RequestListener | { listener: RequestListener; close?: () => unknown };

/** A factory exported by a served module. */
export type AppFactory = (options: never) => ServedApp | Promise<ServedApp>;

function send(message: unknown): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as ChildSpec;
  const url = spec.module.startsWith('file:') ? spec.module : pathToFileURL(spec.module).href;
  const mod = (await import(url)) as Record<string, unknown>;
  const factory = mod[spec.export ?? 'default'];
  if (typeof factory !== 'function') throw new Error(`${spec.module} has no exported function ${spec.export ?? 'default'}`);
  const served = (await (factory as (o: unknown) => ServedApp | Promise<ServedApp>)(spec.options ?? {})) as ServedApp;
  const listener = typeof served === 'function' ? served : served.listener;
  const closeApp = typeof served === 'function' ? undefined : served.close;
  const server = createServer(listener);
  let requests = 0;
  server.on('request', () => requests++);
  // autocannon keeps its connections busy; a longer idle timeout only matters between phases.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let closing = false;
  const shutdown = async (code: number) => {
    if (closing) return;
    closing = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await closeApp?.();
    process.exit(code);
  };
  process.on('message', (msg: { type?: string }) => {
    if (msg?.type === 'cpu') {
      const usage = process.cpuUsage();
      send({ type: 'cpu', user: usage.user, system: usage.system, rss: process.memoryUsage().rss, requests, atUs: Number(process.hrtime.bigint() / 1000n) });
    } else if (msg?.type === 'close') {
      void shutdown(0);
    }
  });
  process.on('disconnect', () => void shutdown(0));
  send({ type: 'listening', port: (server.address() as AddressInfo).port });
}

main().catch((err: unknown) => {
  send({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exitCode = 1;
  process.disconnect?.();
});
