import { connect, createServer } from 'node:net';
import { StartFailedError } from './errors.js';

/** A TCP port that was free on 127.0.0.1 a moment ago (for processes that cannot take port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on `port`; rejects after `timeoutMs` or when `exited` settles first. */
export async function waitForPort(port: number, timeoutMs: number, exited?: Promise<void>, name = `:${port}`): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited?.then(() => (gone = true));
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (gone) throw new StartFailedError(`${name} exited before it listened on port ${port}`);
    if (Date.now() > deadline) throw new StartFailedError(`${name} did not listen on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

