/**
 * HTTP load with wrk (a separate C process with its own threads), for the cases where
 * autocannon in the benchmark process would be the bottleneck: proxies that use every core.
 * `scripts/provision.sh` installs it; {@link hasWrk} says whether it is there.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import type { LoadResult, MeasuredResult } from './load.js';
import type { ServerHandle } from './server.js';

const run = promisify(execFile);

/** Options of {@link runWrk}. */
export interface WrkOptions {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** @default "/" */
  path?: string;
  /** @default 50 */
  connections?: number;
  /** wrk threads (at most `connections`). @default 1 */
  threads?: number;
  /** Measured seconds. @default 5 */
  duration?: number;
  /** Seconds of unmeasured load first. @default 1 */
  warmup?: number;
}

/** True when a `wrk` binary is on the PATH. */
export function hasWrk(): boolean {
  return spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) throw new Error(`wrk: cannot read the latency "${text}"`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** Reads wrk's `--latency` report. Exported for its unit test. */
export function parseWrk(out: string): LoadResult {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(out);
    if (!m) throw new Error(`wrk: no ${p}% line in its report:\n${out}`);
    return toMs(m[1]!);
  };
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  if (!total) throw new Error(`wrk: no "requests in" line in its report:\n${out}`);
  const seconds = (Number(total[2]) * UNIT_MS[total[3]!]!) / 1000;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) : 0;
  const timeouts = sock ? Number(sock[4]) : 0;
  const mean = /Latency\s+(\S+)/.exec(out);
  const ok = Number(total[1]) - non2xx;
  return { rps: ok / seconds, p50: pct('50'), p90: pct('90'), p99: pct('99'), mean: mean ? toMs(mean[1]!) : NaN, total: ok, non2xx, errors, timeouts, seconds };
}

/** One wrk run; throws on any error, non-2xx or timeout. */
export async function runWrk(opts: WrkOptions): Promise<LoadResult> {
  const connections = opts.connections ?? 50;
  const threads = Math.min(opts.threads ?? 1, connections);
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${opts.duration ?? 5}s`, '--latency', '--timeout', '10s', new URL(opts.path ?? '/', opts.url).href];
  const { stdout } = await run('wrk', args, { maxBuffer: 1 << 20 });
  const result = parseWrk(stdout);
  if (result.non2xx || result.errors || result.timeouts) {
    throw new Error(`wrk on ${opts.url}: ${result.non2xx} non-2xx, ${result.errors} socket errors, ${result.timeouts} timeouts\n${stdout}`);
  }
  return result;
}

/** {@link runWrk} against `server`, with the server's CPU per request over the measured run. */
export async function measureWrk(server: ServerHandle, opts: Omit<WrkOptions, 'url'>): Promise<MeasuredResult> {
  const warmup = opts.warmup ?? 1;
  if (warmup > 0) await runWrk({ ...opts, url: server.url, duration: warmup }).catch(() => undefined);
  const before = await server.cpu();
  const result = await runWrk({ ...opts, url: server.url, warmup: 0 });
  const after = await server.cpu();
  const cpuUs = after.user - before.user + (after.system - before.system);
  return { ...result, cpuPerRequestUs: cpuUs / result.total, rss: after.rss };
}
