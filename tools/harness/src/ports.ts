import { connect, createServer } from 'node:net';
import { ConditionTimeoutError, StartFailedError } from './errors.js';

/** A TCP port that was free on 127.0.0.1 a moment ago (for servers that cannot take port 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface WaitForPortOptions {
  /** @default "127.0.0.1" */
  host?: string;
  /** Settles when the process that should listen exits: the wait fails at once instead of timing out. */
  exited?: Promise<unknown>;
  /** The process's name in the error. @default ":<port>" */
  name?: string;
}

/** Resolves once something accepts TCP connections on `port`, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000, options: WaitForPortOptions = {}): Promise<void> {
  const { host = '127.0.0.1', exited, name = `:${port}` } = options;
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited?.then(() => (gone = true), () => (gone = true));
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => { s.destroy(); resolve(false); });
    });
    if (ok) return;
    if (gone) throw new StartFailedError(`${name} exited before it listened on ${host}:${port}`);
    if (Date.now() > deadline) throw new StartFailedError(`nothing listens on ${host}:${port} after ${timeoutMs} ms (${name})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `check` until it returns a truthy value, or rejects after `timeoutMs`. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new ConditionTimeoutError(`${what} not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`, last === undefined ? undefined : { cause: last });
    await new Promise((r) => setTimeout(r, 25));
  }
}
