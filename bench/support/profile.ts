/**
 * Reading `.cpuprofile` files (written by `node --cpu-prof`, e.g. `startServerChild({ cpuProfileDir })`)
 * into a short account of where the time went.
 *
 * - `summarizeProfile(file, { top, windows })`: self time per package (`express-session`,
 *   `@scaleout/core`, `node:internal/...`, `(garbage collector)`...) and the `top` functions
 *   by self time, each with its share of the non-idle samples. `windows` (e.g. the `window` of
 *   each `measure()` result) keeps only the samples taken in them, so start-up and warm-up do
 *   not count, and gives per-request figures (`perRequestUs`).
 * - `formatSummary(summary)`: the same as markdown tables.
 * - `compareProfiles(anchor, ours)`: µs per request by package and by function side by side,
 *   largest difference first — where a case spends the time its anchor does not.
 * - `latestProfile(dir)`: the newest main-thread `.cpuprofile` in a folder.
 *
 * Sample weights are wall-clock gaps between samples: on a machine busy with other work, time
 * the thread spent descheduled lands on whatever ran next (often a syscall such as `writev`).
 * Read shares within one profile; for totals trust CPU time (`measure()`, `inject.ts`).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { markdownTable } from './table.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A span of the profiled process's monotonic clock (µs) and the requests it served in it. */
export interface ProfileWindow {
  fromUs: number;
  toUs: number;
  requests: number;
}

/** Self time of one function or one package. */
export interface ProfileEntry {
  name: string;
  /** Self time, ms. */
  ms: number;
  /** Share of the non-idle time, 0..1. */
  share: number;
  /** Self time per request, µs (when windows with request counts were given). */
  perRequestUs?: number;
}

/** What {@link summarizeProfile} finds. */
export interface ProfileSummary {
  file: string;
  /** Non-idle sampled time, ms. */
  busyMs: number;
  /** Requests in the windows, when given. */
  requests?: number;
  byPackage: ProfileEntry[];
  topFunctions: ProfileEntry[];
}

/** The package (or runtime area) a script URL belongs to. */
export function areaOf(url: string, functionName: string): string {
  if (!url) return `(${functionName || 'native'})`.replace(/^\(\((.*)\)\)$/, '($1)');
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const pkg = /\/packages\/([^/]+)\/src\//.exec(url);
  if (pkg) return `@scaleout/${pkg[1]}`;
  if (url.startsWith('node:')) return url.replace(/^node:internal\/([^/]+).*$/, 'node:internal/$1');
  const bench = /\/(bench|test)\//.exec(url);
  return bench ? `${bench[1]}/ (app code)` : url;
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) return url.slice(nm + 'node_modules/'.length);
  const i = url.search(/\/(packages|bench|test)\//);
  return i !== -1 ? url.slice(i + 1) : url.replace(/^file:\/\//, '');
}

/** Self time by package and by function. */
export async function summarizeProfile(file: string, options: { top?: number; windows?: readonly ProfileWindow[] } = {}): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const windows = options.windows ?? [];
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (windows.length && !windows.some((w) => at >= w.fromUs && at <= w.toUs)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const requests = windows.length ? windows.reduce((n, w) => n + w.requests, 0) : undefined;
  const pkg = new Map<string, number>();
  const fn = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') continue;
    busy += us;
    const area = areaOf(f.url, f.functionName);
    pkg.set(area, (pkg.get(area) ?? 0) + us);
    const key = f.url ? `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}` : `(${f.functionName})`.replace(/^\(\((.*)\)\)$/, '($1)');
    fn.set(key, (fn.get(key) ?? 0) + us);
  }
  const entries = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, share: busy ? us / busy : 0, ...(requests ? { perRequestUs: us / requests } : {}) }));
  return {
    file,
    busyMs: busy / 1000,
    ...(requests ? { requests } : {}),
    byPackage: entries(pkg, options.top ?? 25),
    topFunctions: entries(fn, options.top ?? 25),
  };
}

/** A summary as two markdown tables. */
export function formatSummary(s: ProfileSummary): string {
  const rows = (list: ProfileEntry[]) => list.map((e) => [e.name, e.ms.toFixed(0), `${(e.share * 100).toFixed(1)}%`, e.perRequestUs?.toFixed(1) ?? '']);
  return [
    `Profile ${s.file}: ${s.busyMs.toFixed(0)} ms busy${s.requests ? ` over ${s.requests} requests (${((s.busyMs * 1000) / s.requests).toFixed(1)} µs each)` : ''}.`,
    '',
    markdownTable(['package / area (self time)', 'ms', 'share', 'µs/req'], rows(s.byPackage)),
    '',
    markdownTable(['function (self time)', 'ms', 'share', 'µs/req'], rows(s.topFunctions)),
  ].join('\n');
}

/**
 * Two summaries taken with request windows, side by side in µs per request, largest
 * difference first: where `ours` spends time that `anchor` does not (and the reverse).
 */
export function compareProfiles(anchor: ProfileSummary, ours: ProfileSummary, top = 20): string {
  const table = (title: string, a: ProfileEntry[], b: ProfileEntry[]) => {
    const names = new Set([...a, ...b].map((e) => e.name));
    const of = (list: ProfileEntry[], n: string) => list.find((e) => e.name === n)?.perRequestUs ?? 0;
    const rows = [...names]
      .map((n) => ({ n, a: of(a, n), b: of(b, n) }))
      .sort((x, y) => Math.abs(y.b - y.a) - Math.abs(x.b - x.a))
      .slice(0, top)
      .map((r) => [r.n, r.a.toFixed(1), r.b.toFixed(1), (r.b - r.a >= 0 ? '+' : '') + (r.b - r.a).toFixed(1)]);
    return markdownTable([title, 'anchor µs/req', 'ours µs/req', 'difference'], rows);
  };
  const perReq = (s: ProfileSummary) => (s.requests ? (s.busyMs * 1000) / s.requests : NaN);
  return [
    `Busy CPU per request: anchor ${perReq(anchor).toFixed(1)} µs, ours ${perReq(ours).toFixed(1)} µs (self time; entries below the top ${anchor.topFunctions.length} of either profile count as 0).`,
    '',
    table('package / area', anchor.byPackage, ours.byPackage),
    '',
    table('function', anchor.topFunctions, ours.topFunctions),
  ].join('\n');
}

/**
 * The newest main-thread `.cpuprofile` in `dir`, or `undefined`. Node names them
 * `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`; thread 0 is the main thread (tsx's
 * module loader runs in a worker thread and writes its own, mostly start-up, profile).
 */
export async function latestProfile(dir: string): Promise<string | undefined> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.cpuprofile'));
  const main = names.filter((n) => /\.\d+\.0\.\d+\.cpuprofile$/.test(n));
  const pool = main.length ? main : names;
  const withTimes = await Promise.all(pool.map(async (n) => ({ n, t: (await stat(join(dir, n))).mtimeMs })));
  withTimes.sort((a, b) => b.t - a.t);
  return withTimes[0] ? join(dir, withTimes[0].n) : undefined;
}
