/**
 * HTTP load with autocannon, run in THIS process (one thread: no autocannon workers, which on a
 * 2-core machine would only fight the server for CPU).
 *
 * - `runLoad(options)`: an optional warm-up, then a measured run; returns requests/s and
 *   latency percentiles. Latency is recorded per response from autocannon's `response` event
 *   in fractional ms (autocannon's own histogram rounds to whole ms, too coarse for a ~5 ms
 *   p50). Any non-2xx response, error or timeout throws, unless `allowErrors`.
 * - `measure(server, options)`: `runLoad` plus the CPU the server process used per request
 *   during the measured run (`server.cpu()` before and after) — a figure that moves much less
 *   than requests/s when other work shares the machine.
 * - `requestsWithCookies(path, cookies)`: one prebuilt request per cookie header; each
 *   autocannon connection cycles through them, so the run hits existing sessions round-robin
 *   without rebuilding a request per send.
 *
 * ```ts
 * const r = await measure(server, { path: '/count', requests: requestsWithCookies('/count', jar), duration: 8, warmup: 2 });
 * r.rps; r.p50; r.p99; r.cpuPerRequestUs;
 * ```
 */
import { createRequire } from 'node:module';
import type { ServerHandle } from './server.js';

/** One request template of autocannon (`requests` option). */
export interface LoadRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** Options of {@link runLoad}. */
export interface LoadOptions {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** Path when `requests` is not given. @default "/" */
  path?: string;
  /** Request templates, sent in turn by every connection. */
  requests?: LoadRequest[];
  /** Headers of every request. */
  headers?: Record<string, string>;
  /** Concurrent connections. @default 50 */
  connections?: number;
  /** Measured seconds. @default 8 */
  duration?: number;
  /** Seconds of unmeasured load first (JIT, caches, connection set-up). 0 = none. @default 2 */
  warmup?: number;
  /** Requests in flight per connection. @default 1 */
  pipelining?: number;
  /** Seconds before a request counts as a timeout. @default 10 */
  timeout?: number;
  /** Return errors and non-2xx in the result instead of throwing. @default false */
  allowErrors?: boolean;
}

/** What a run measured. Latencies in ms. */
export interface LoadResult {
  /** Completed 2xx responses per second over the measured run. */
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  /** Mean latency. */
  mean: number;
  /** Responses counted (2xx only). */
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Measured seconds, as autocannon timed them. */
  seconds: number;
}

/** A {@link LoadResult} with the server's CPU use. */
export interface MeasuredResult extends LoadResult {
  /** Server CPU (user + system) per 2xx response during the measured run, µs. */
  cpuPerRequestUs: number;
  /** Server resident memory after the run, bytes. */
  rss: number;
  /**
   * The measured run on the server's clock and the requests it received in it, when the handle
   * reports them (`startServerChild` does): cut a `.cpuprofile` to it with `summarizeProfile`.
   */
  window?: { fromUs: number; toUs: number; requests: number };
}

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number };
}
type Tracker = Promise<AutocannonResult> & { on(event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void };
type Autocannon = (opts: Record<string, unknown>) => Tracker;

// autocannon ships no types; its call signature is narrowed to what is used here.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/** The value at quantile `q` (0..1) of ascending `sorted`. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

async function once(opts: LoadOptions, seconds: number, latencies: number[] | undefined): Promise<AutocannonResult> {
  const tracker = autocannon({
    url: opts.url,
    connections: opts.connections ?? 50,
    duration: seconds,
    pipelining: opts.pipelining ?? 1,
    timeout: opts.timeout ?? 10,
    ...(opts.headers ? { headers: opts.headers } : {}),
    // autocannon takes the path from the URL; its own `path` option only applies inside `requests`.
    ...(opts.requests ? { requests: opts.requests } : { url: new URL(opts.path ?? '/', opts.url).href }),
  });
  if (latencies) {
    tracker.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  }
  return tracker;
}

/** Warms up, then measures. Throws on any non-2xx, error or timeout unless `allowErrors`. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const warmup = opts.warmup ?? 2;
  if (warmup > 0) await once(opts, warmup, undefined);
  const latencies: number[] = [];
  const r = await once(opts, opts.duration ?? 8, latencies);
  const sorted = Float64Array.from(latencies).sort();
  const result: LoadResult = {
    rps: sorted.length / r.duration,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    mean: sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1),
    total: sorted.length,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    seconds: r.duration,
  };
  if (!opts.allowErrors && (r.non2xx || r.errors || r.timeouts)) {
    throw new Error(`load on ${opts.url} had ${r.non2xx} non-2xx responses, ${r.errors} errors, ${r.timeouts} timeouts (of ${r.requests.total})`);
  }
  if (sorted.length === 0 && !opts.allowErrors) throw new Error(`load on ${opts.url}: no 2xx response at all`);
  return result;
}

/** {@link runLoad} against `server`, adding the server's CPU per request over the measured run. */
export async function measure(server: ServerHandle, opts: Omit<LoadOptions, 'url'>): Promise<MeasuredResult> {
  const warmup = opts.warmup ?? 2;
  if (warmup > 0) await runLoad({ ...opts, url: server.url, duration: warmup, warmup: 0, allowErrors: true });
  const before = await server.cpu();
  const result = await runLoad({ ...opts, url: server.url, warmup: 0 });
  const after = await server.cpu();
  const cpuUs = after.user - before.user + (after.system - before.system);
  const window =
    before.atUs !== undefined && after.atUs !== undefined && before.requests !== undefined && after.requests !== undefined
      ? { fromUs: before.atUs, toUs: after.atUs, requests: after.requests - before.requests }
      : undefined;
  return { ...result, cpuPerRequestUs: cpuUs / result.total, rss: after.rss, ...(window ? { window } : {}) };
}

/** One prebuilt GET per cookie header, for `LoadOptions.requests`. */
export function requestsWithCookies(path: string, cookies: readonly string[], headers: Record<string, string> = {}): LoadRequest[] {
  return cookies.map((cookie) => ({ method: 'GET', path, headers: { ...headers, cookie } }));
}
