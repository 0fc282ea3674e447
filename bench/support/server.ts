/**
 * Starting the server under test.
 *
 * - `startServerChild(spec)`: serves an app factory in its OWN Node.js process (see
 *   `./child.ts`), so the load generator in this process does not steal its CPU. Give it the
 *   module that exports the factory, the export's name and JSON options; it resolves once the
 *   child listens. `cpuProfileDir` runs the child under `--cpu-prof` (the profile is written
 *   when the handle is closed).
 * - `startServerInProcess(listener)`: the same handle for a listener served in this process
 *   (for micro-benchmarks where a child's IPC would be the noise).
 *
 * Both return a {@link ServerHandle}: `url`, `port`, `cpu()` (CPU time the server process has
 * used, for CPU-per-request figures that hold up on a busy machine), and `close()` (safe twice,
 * also `await using`).
 *
 * ```ts
 * await using server = await startServerChild({ module: new URL('./apps.ts', import.meta.url), export: 'bareExpress' });
 * const result = await measure(server, { path: '/count' });
 * ```
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** CPU and memory of a server process at one moment. */
export interface CpuSample {
  /** User CPU time since the process started, µs. */
  user: number;
  /** System CPU time since the process started, µs. */
  system: number;
  /** Resident set size, bytes. */
  rss: number;
  /** Requests the server has received since it started (when the handle counts them). */
  requests?: number;
  /** When the sample was taken: the monotonic clock in µs (the clock of `.cpuprofile` timestamps). */
  atUs?: number;
}

/** A running server under test. */
export interface ServerHandle {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** The child's pid; `undefined` when served in this process. */
  pid: number | undefined;
  /** CPU used so far by the process that serves (this process when in-process). */
  cpu(): Promise<CpuSample>;
  /** Stops the server (and the child, waiting for it to exit). Safe to call twice. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** What {@link startServerChild} serves. */
export interface ChildServerOptions {
  /** The module exporting the app factory (path or URL). */
  module: string | URL;
  /** The factory's export name. @default "default" */
  export?: string;
  /** JSON-serialisable options for the factory. */
  options?: unknown;
  /** Write a `.cpuprofile` of the child into this folder (`node --cpu-prof`). */
  cpuProfileDir?: string;
  /** More Node.js flags for the child (after `--conditions=@scaleout/source --import tsx`). */
  execArgv?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Longest the child may take to listen. @default 20000 */
  startTimeoutMs?: number;
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

/** Serves an app factory in its own process; resolves when it listens. */
export async function startServerChild(opts: ChildServerOptions): Promise<ServerHandle> {
  const execArgv = ['--conditions=@scaleout/source', '--import', 'tsx', ...(opts.execArgv ?? [])];
  if (opts.cpuProfileDir) {
    mkdirSync(opts.cpuProfileDir, { recursive: true });
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`);
  }
  const spec = JSON.stringify({ module: opts.module instanceof URL ? opts.module.href : opts.module, export: opts.export, options: opts.options });
  const child = fork(CHILD, [spec], { execArgv, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`server child did not listen within ${opts.startTimeoutMs ?? 20_000} ms`)), opts.startTimeoutMs ?? 20_000);
    function fail(err: Error) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    }
    child.on('message', function onMessage(msg: { type?: string; port?: number; error?: string }) {
      if (msg?.type === 'listening' && typeof msg.port === 'number') {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(msg.port);
      } else if (msg?.type === 'failed') fail(new Error(`server child failed to start: ${msg.error}`));
    });
    child.once('exit', (code, signal) => fail(new Error(`server child exited before listening (code ${code}, signal ${signal})`)));
    child.once('error', fail);
  });
  return childHandle(child, port, exited);
}

function childHandle(child: ChildProcess, port: number, exited: Promise<void>): ServerHandle {
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.send({ type: 'close' }, () => undefined);
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    })());
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    cpu: () =>
      new Promise<CpuSample>((resolve, reject) => {
        const onMessage = (msg: { type?: string } & CpuSample) => {
          if (msg?.type !== 'cpu') return;
          child.off('message', onMessage);
          resolve({ user: msg.user, system: msg.system, rss: msg.rss, requests: msg.requests, atUs: msg.atUs });
        };
        child.on('message', onMessage);
        child.send({ type: 'cpu' }, (err) => {
          if (err) {
            child.off('message', onMessage);
            reject(err);
          }
        });
      }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Serves `listener` in this process on 127.0.0.1 at a free port. */
export async function startServerInProcess(listener: RequestListener): Promise<ServerHandle> {
  const server = createServer(listener);
  let requests = 0;
  server.on('request', () => requests++);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: undefined,
    cpu: async () => {
      const u = process.cpuUsage();
      return { user: u.user, system: u.system, rss: process.memoryUsage().rss, requests, atUs: Number(process.hrtime.bigint() / 1000n) };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
