/**
 * A cookie jar of existing sessions, so a benchmark measures traffic of returning clients and
 * not only session creation.
 *
 * - `createSessions(url, { path, count })`: sends `count` requests without a cookie, keeps what
 *   each response's `Set-Cookie` headers set (every cookie of it: koa-session's signed mode sets
 *   two) and returns one `Cookie` header per session. Throws when a response sets no cookie.
 * - `getJson(url, cookie?)`: one GET, the parsed JSON body — to check after a run that a session
 *   really kept its state.
 *
 * Feed the jar to `requestsWithCookies()` from `./load.ts`.
 */
import { Agent, request } from 'node:http';

/** Options of {@link createSessions}. */
export interface CreateSessionsOptions {
  /** The path that creates a session (it must modify it). @default "/count" */
  path?: string;
  /** How many sessions. @default 500 */
  count?: number;
  /** Requests in flight while creating. @default 16 */
  concurrency?: number;
}

interface Reply {
  status: number;
  setCookie: string[];
  body: string;
}

function get(url: string, agent: Agent, cookie?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: cookie ? { cookie } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, setCookie: res.headers['set-cookie'] ?? [], body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** `name=value` pairs of `Set-Cookie` headers, as one `Cookie` header. */
export function cookieHeaderOf(setCookie: readonly string[]): string {
  return setCookie.map((c) => c.split(';', 1)[0]!.trim()).filter(Boolean).join('; ');
}

/** Creates `count` sessions; returns their `Cookie` headers. */
export async function createSessions(baseUrl: string, options: CreateSessionsOptions = {}): Promise<string[]> {
  const path = options.path ?? '/count';
  const count = options.count ?? 500;
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency ?? 16 });
  const jar: string[] = new Array<string>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const r = await get(baseUrl + path, agent);
      if (r.status < 200 || r.status >= 300) throw new Error(`GET ${path} answered ${r.status}: ${r.body.slice(0, 200)}`);
      const cookie = cookieHeaderOf(r.setCookie);
      if (!cookie) throw new Error(`GET ${path} set no cookie: the app did not create a session`);
      jar[i] = cookie;
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  } finally {
    agent.destroy();
  }
  return jar;
}

/** One GET with an optional `Cookie` header; the JSON body. */
export async function getJson<T = unknown>(url: string, cookie?: string): Promise<T> {
  const agent = new Agent({ keepAlive: false });
  try {
    const r = await get(url, agent, cookie);
    if (r.status < 200 || r.status >= 300) throw new Error(`GET ${url} answered ${r.status}`);
    return JSON.parse(r.body) as T;
  } finally {
    agent.destroy();
  }
}
