/**
 * Reading `.cpuprofile` files (written by `node --cpu-prof`, e.g. `startServerChild({ cpuProfileDir })`)
 * into a short account of where the time went.
 *
 * - `summarizeProfile(file, { top })`: self time per package (`express-session`,
 *   `@scaleout/core`, `node:internal/...`, `(garbage collector)`...) and the `top` functions
 *   by self time, each with its share of the non-idle samples.
 * - `formatSummary(summary)`: the same as markdown tables.
 * - `latestProfile(dir)`: the newest main-thread `.cpuprofile` in a folder.
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
  samples: number[];
  timeDeltas: number[];
}

/** Self time of one function or one package. */
export interface ProfileEntry {
  name: string;
  /** Self time, ms. */
  ms: number;
  /** Share of the non-idle time, 0..1. */
  share: number;
}

/** What {@link summarizeProfile} finds. */
export interface ProfileSummary {
  file: string;
  /** Non-idle sampled time, ms. */
  busyMs: number;
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
export async function summarizeProfile(file: string, options: { top?: number } = {}): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
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
      .map(([name, us]) => ({ name, ms: us / 1000, share: busy ? us / busy : 0 }));
  return { file, busyMs: busy / 1000, byPackage: entries(pkg, 15), topFunctions: entries(fn, options.top ?? 25) };
}

/** A summary as two markdown tables. */
export function formatSummary(s: ProfileSummary): string {
  const rows = (list: ProfileEntry[]) => list.map((e) => [e.name, e.ms.toFixed(0), `${(e.share * 100).toFixed(1)}%`]);
  return [
    `Profile ${s.file}: ${s.busyMs.toFixed(0)} ms busy.`,
    '',
    markdownTable(['package / area (self time)', 'ms', 'share'], rows(s.byPackage)),
    '',
    markdownTable(['function (self time)', 'ms', 'share'], rows(s.topFunctions)),
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
