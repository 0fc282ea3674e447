/**
 * CPU per request with no sockets: requests are handed straight to a request listener, in this
 * process, and only the CPU time of the work is counted. No kernel, no load generator, no
 * scheduling between processes: on a busy 2-core machine this moves far less than requests/s,
 * so it is the figure to trust for "how much work does this middleware add".
 *
 * - `injectRequest(listener, { url, headers })`: one request; resolves with the `Set-Cookie`
 *   headers once the app has ended the response (the body is not kept).
 * - `createInjectedSessions(listener, { path, count })`: a cookie jar, as `createSessions()` in
 *   `./sessions.ts` but injected.
 * - `injectedCpuPerRequest(listener, { path, cookies, count, concurrency })`: sends `count`
 *   requests, `concurrency` at a time, cookies round-robin; returns CPU µs per request.
 *
 * The request is a real `http.IncomingMessage` on an unconnected socket and the response a real
 * `http.ServerResponse`, whose output stays buffered: what is measured is the framework and the
 * middleware, not the network.
 */
import { IncomingMessage, ServerResponse, type RequestListener } from 'node:http';
import { Socket } from 'node:net';
import { cookieHeaderOf } from './sessions.js';

/** What {@link injectRequest} sends. */
export interface InjectOptions {
  /** @default "GET" */
  method?: string;
  /** @default "/" */
  url?: string;
  headers?: Record<string, string>;
}

/** Sends one request to `listener`; resolves with its `Set-Cookie` headers when it ends. */
export function injectRequest(listener: RequestListener, options: InjectOptions = {}): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const req = new IncomingMessage(new Socket());
    req.method = options.method ?? 'GET';
    req.url = options.url ?? '/';
    req.headers = { host: 'bench.local', ...options.headers };
    req.httpVersion = '1.1';
    req.httpVersionMajor = 1;
    req.httpVersionMinor = 1;
    req.push(null);
    const res = new ServerResponse(req);
    const end = res.end;
    // The app's middleware wraps `end` again; this innermost one runs when the response truly ends.
    res.end = function (this: ServerResponse, ...args: unknown[]) {
      const out = (end as (...a: unknown[]) => ServerResponse).apply(this, args);
      if (res.statusCode >= 400) reject(new Error(`${req.method} ${req.url} answered ${res.statusCode}`));
      const sc = res.getHeader('set-cookie');
      resolve(Array.isArray(sc) ? sc : sc === undefined ? [] : [String(sc)]);
      return out;
    } as ServerResponse['end'];
    listener(req, res);
  });
}

/** Creates `count` sessions through `path`; returns their `Cookie` headers. */
export async function createInjectedSessions(listener: RequestListener, options: { path?: string; count?: number } = {}): Promise<string[]> {
  const jar: string[] = [];
  for (let i = 0; i < (options.count ?? 500); i++) {
    const cookie = cookieHeaderOf(await injectRequest(listener, { url: options.path ?? '/count' }));
    if (!cookie) throw new Error(`GET ${options.path ?? '/count'} set no cookie: the app did not create a session`);
    jar.push(cookie);
  }
  return jar;
}

/** What {@link injectedCpuPerRequest} sends. */
export interface InjectedLoad {
  /** @default "/count" */
  path?: string;
  /** Cookie headers sent round-robin; none for a sessionless app. */
  cookies?: readonly string[];
  /** @default 20000 */
  count?: number;
  /** Requests in flight. @default 50 */
  concurrency?: number;
}

/** Sends `count` injected requests; returns CPU time (user + system) per request, µs. */
export async function injectedCpuPerRequest(listener: RequestListener, load: InjectedLoad = {}): Promise<number> {
  const count = load.count ?? 20_000;
  const cookies = load.cookies ?? [];
  const url = load.path ?? '/count';
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      // Each request starts in a turn of the event loop of its own, as one read from a socket
      // does: work that Node defers to the next turn (setImmediate) runs as it would in a server,
      // instead of piling up for the whole run and taxing the garbage collector more and more.
      await new Promise<void>((resolve) => setImmediate(resolve));
      await injectRequest(listener, { url, ...(cookies.length ? { headers: { cookie: cookies[i % cookies.length]! } } : {}) });
    }
  };
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: load.concurrency ?? 50 }, worker));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}
