import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';

export interface ServeOptions {
  /** @default 0 (any free port: the ready line names it) */
  port?: number;
  /** @default "127.0.0.1" */
  host?: string;
  /** Runs after the server closed, before the exit (a strategy's close()). */
  close?: () => Promise<unknown>;
}

/**
 * The server side of `nodeProcess({ ready: /READY (\d+)/ })`: listens, prints `READY <port>` once
 * it serves, and on SIGTERM or SIGINT closes the server (and an HTTP server's open connections),
 * runs `options.close`, then exits 0.
 */
export function serveWithReadyLine(server: Server, options: ServeOptions = {}): void {
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
    process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
  });
  const stop = () => {
    server.close();
    (server as Partial<HttpServer>).closeAllConnections?.();
    void Promise.resolve(options.close?.()).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
