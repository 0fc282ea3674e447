/**
 * `npm run bench -- middleware`: request throughput of the session middleware, against the
 * anchors in the same run.
 *
 * Express: bare Express (ceiling) · express-session + its MemoryStore (ANCHOR) ·
 * `@scaleout/express` over `createStrategy({ strategy: 'store', store: { type: 'memory' } })`.
 * Koa: bare Koa (ceiling) · koa-session with an in-memory external store (ANCHOR: like ours, the
 * session lives on the server, so the comparison is fair) · koa-session's default cookie store
 * (no server state; shown for reference) · `@scaleout/koa` on the memory store.
 *
 * Every server runs in its own child process; autocannon runs here, one thread, 50 connections.
 * Each case first gets N sessions (default 500); the measured traffic sends their cookies
 * round-robin to `GET /count`, which reads the session, increments a counter and saves it. Cases
 * alternate within each round; the table reports the median over rounds, and the notes give
 * every round's ratio, since other work on a 2-core machine moves absolute numbers.
 *
 * A second table gives the CPU per request with no sockets at all (requests handed straight to
 * each app in this process, see `support/inject.ts`): the middleware's own cost, which noise
 * from other work on the machine barely moves.
 *
 * `--metrics` adds `@scaleout/express` and `@scaleout/koa` with `metrics()` registered (the
 * session layer's observer and the memory store's metrics on), each anchored on the same app
 * without metrics: the overhead of metrics per request (target: under 5% more CPU).
 *
 * Own flags: `--sessions=500`, `--cases=express-session,scaleout-express` (subset by id),
 * `--inject-count=20000` (requests per case and round in the no-socket table; 0 skips it).
 * `--profile` writes a `.cpuprofile` per server into `.tmp/bench/profiles/middleware` and prints
 * where the time went.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import type { BenchOptions } from './support/options.js';
import { flag, sessionLoadSettings } from './support/options.js';
import { startServerChild, type ServerHandle } from './support/server.js';
import { measure, requestsWithCookies, type MeasuredResult } from './support/load.js';
import { createSessions, getJson } from './support/sessions.js';
import { fmt, median, ratio, throughputTable, type ThroughputRow } from './support/table.js';
import type { RequestListener } from 'node:http';
import * as apps from './support/session-apps.js';
import type { ServedApp } from './support/child.js';
import { createInjectedSessions, injectedCpuPerRequest } from './support/inject.js';
import { markdownTable } from './support/table.js';
import { compareProfiles, formatSummary, latestProfile, summarizeProfile, type ProfileSummary } from './support/profile.js';

interface Case {
  id: string;
  name: string;
  factory: string;
  framework: 'express' | 'koa';
  /** Sends session cookies (false for the bare ceilings). */
  session: boolean;
  /** id of the case this one is compared with. */
  anchor?: string;
  isAnchor?: boolean;
  /** The session state lives on the server (the counter must survive the run). */
  serverState?: boolean;
  /** Passed to the app factory. */
  options?: object;
  /** Targets against the anchor: req/s at least, CPU per request at most. */
  target?: { rps: number; cpu?: number };
}

// What the session engine must reach against the anchors in the same run.
const EXPRESS_TARGET = { rps: 1.3, cpu: 0.75 };
const KOA_TARGET = { rps: 1.2 };

/** Every case, in table order. */
export const CASES: readonly Case[] = [
  { id: 'express-bare', name: 'Express, no session', factory: 'bareExpress', framework: 'express', session: false },
  { id: 'express-session', name: 'Express + express-session + MemoryStore', factory: 'expressSessionApp', framework: 'express', session: true, isAnchor: true, serverState: true },
  { id: 'scaleout-express', name: 'Express + @scaleout/express (memory store)', factory: 'scaleoutExpressApp', framework: 'express', session: true, anchor: 'express-session', serverState: true, target: EXPRESS_TARGET },
  { id: 'scaleout-express-sticky', name: 'Express + @scaleout/express (sticky strategy)', factory: 'scaleoutExpressApp', framework: 'express', session: true, anchor: 'express-session', serverState: true, options: { config: { strategy: 'sticky', nodeId: 'bench-node', store: undefined } }, target: EXPRESS_TARGET },
  { id: 'koa-bare', name: 'Koa, no session', factory: 'bareKoa', framework: 'koa', session: false },
  { id: 'koa-session-cookie', name: 'Koa + koa-session, cookie store (reference)', factory: 'koaSessionCookieApp', framework: 'koa', session: true, anchor: 'koa-session-memory' },
  { id: 'koa-session-memory', name: 'Koa + koa-session + in-memory external store', factory: 'koaSessionMemoryApp', framework: 'koa', session: true, isAnchor: true, serverState: true },
  { id: 'scaleout-koa', name: 'Koa + @scaleout/koa (memory store)', factory: 'scaleoutKoaApp', framework: 'koa', session: true, anchor: 'koa-session-memory', serverState: true, target: KOA_TARGET },
];

/** With `--metrics`: the scaleout apps with metrics on, against the same apps without. */
const METRICS_TARGET = { rps: 0.95, cpu: 1.05 };
export const METRICS_CASES: readonly Case[] = [
  { id: 'scaleout-express-metrics', name: 'Express + @scaleout/express (memory store) + metrics()', factory: 'scaleoutExpressApp', framework: 'express', session: true, anchor: 'scaleout-express', serverState: true, options: { metrics: true }, target: METRICS_TARGET },
  { id: 'scaleout-koa-metrics', name: 'Koa + @scaleout/koa (memory store) + metrics()', factory: 'scaleoutKoaApp', framework: 'koa', session: true, anchor: 'scaleout-koa', serverState: true, options: { metrics: true }, target: METRICS_TARGET },
];

const HOT_CONNECTIONS = 20;

const APPS = fileURLToPath(new URL('./support/session-apps.ts', import.meta.url));
const PROFILE_DIR = fileURLToPath(new URL('../.tmp/bench/profiles/middleware', import.meta.url));

function log(line: string): void {
  process.stderr.write(`[middleware] ${line}\n`);
}

interface Running {
  c: Case;
  server: ServerHandle;
  jar: string[];
  results: MeasuredResult[];
  /** The hot-session load: every connection on one session, each request changing it. */
  hot: MeasuredResult[];
}

function pickCases(options: BenchOptions): Case[] {
  const all = options.flags?.metrics === undefined || options.flags.metrics === false ? CASES : [...CASES, ...METRICS_CASES];
  const wanted = flag(options, 'cases', '');
  if (!wanted) return [...all];
  const ids = wanted.split(',').map((s) => s.trim());
  const unknown = ids.filter((id) => !all.some((c) => c.id === id));
  if (unknown.length) throw new Error(`--cases: unknown ${unknown.join(', ')}; known: ${all.map((c) => c.id).join(', ')}`);
  // An anchor comes along with the case compared to it (and its own anchor in turn).
  const withAnchors = new Set<string>();
  const add = (id: string): void => {
    if (withAnchors.has(id)) return;
    withAnchors.add(id);
    const anchor = all.find((c) => c.id === id)!.anchor;
    if (anchor) add(anchor);
  };
  ids.forEach(add);
  return all.filter((c) => withAnchors.has(c.id));
}

// A case and its anchor run back to back, so both meet the same background load; every other
// round reverses each framework's order so neither always goes first.
function roundOrder<T extends { c: Case }>(items: readonly T[], round: number): T[] {
  return (['express', 'koa'] as const).flatMap((fw) => {
    const group = items.filter((x) => x.c.framework === fw);
    return round % 2 ? group.reverse() : group;
  });
}

interface Injected {
  c: Case;
  listener: RequestListener;
  close?: () => unknown;
  jar: string[];
  cpu: number[];
}

/** CPU µs per request with requests injected in-process, cases paired with their anchors. */
async function injectedTable(cases: readonly Case[], rounds: number, count: number, sessions: number): Promise<{ table: string; ratios: Map<string, number[]> }> {
  const xs: Injected[] = [];
  try {
    for (const c of cases) {
      const served = (await (apps as unknown as Record<string, (o: object) => ServedApp | Promise<ServedApp>>)[c.factory]!(c.options ?? {})) as ServedApp;
      const listener = typeof served === 'function' ? served : served.listener;
      const x: Injected = { c, listener, jar: c.session ? await createInjectedSessions(listener, { count: sessions }) : [], cpu: [] };
      if (typeof served !== 'function' && served.close) x.close = served.close;
      xs.push(x);
      await injectedCpuPerRequest(listener, { cookies: x.jar, count: Math.max(2000, count / 2) }); // warm-up
    }
    for (let r = 0; r < rounds; r++) {
      const order = roundOrder(xs, r);
      for (const x of order) {
        x.cpu.push(await injectedCpuPerRequest(x.listener, { cookies: x.jar, count }));
        log(`round ${r + 1}/${rounds} ${x.c.id} (no sockets): ${x.cpu.at(-1)!.toFixed(1)} µs CPU/req`);
      }
    }
  } finally {
    for (const x of xs) await x.close?.();
  }
  const byId = new Map(xs.map((x) => [x.c.id, x]));
  const ratios = new Map<string, number[]>();
  const rows = xs.map((x) => {
    const a = x.c.anchor ? byId.get(x.c.anchor) : undefined;
    const per = a ? x.cpu.map((v, i) => v / a.cpu[i]!) : [];
    if (a) ratios.set(x.c.id, per);
    return [x.c.name, median(x.cpu).toFixed(1), a ? ratio(median(per), 1) : x.c.isAnchor ? 'anchor' : '', per.map((v) => v.toFixed(2)).join(', ')];
  });
  return { table: markdownTable(['case', 'CPU µs/req, no sockets', 'vs anchor', 'per round'], rows), ratios };
}

/** Runs the benchmark; returns its markdown section. */
export async function run(options: BenchOptions = {}): Promise<string> {
  const { duration, warmup, connections, rounds, sessions } = sessionLoadSettings(options);
  const cases = pickCases(options);
  if (options.profile) await rm(PROFILE_DIR, { recursive: true, force: true });

  const running: Running[] = [];
  try {
    for (const c of cases) {
      const server = await startServerChild({
        module: APPS,
        export: c.factory,
        ...(c.options ? { options: c.options } : {}),
        ...(options.profile ? { cpuProfileDir: join(PROFILE_DIR, c.id) } : {}),
      });
      const jar = c.session ? await createSessions(server.url, { path: '/count', count: sessions }) : [];
      running.push({ c, server, jar, results: [], hot: [] });
      log(`${c.id}: pid ${server.pid} on ${server.url}${c.session ? `, ${jar.length} sessions` : ''}`);
    }
    for (let r = 0; r < rounds; r++) {
      const order = roundOrder(running, r);
      for (const x of order) {
        const res = await measure(x.server, {
          ...(x.c.session ? { requests: requestsWithCookies('/count', x.jar) } : { path: '/count' }),
          connections,
          duration,
          warmup,
        });
        x.results.push(res);
        log(`round ${r + 1}/${rounds} ${x.c.id}: ${fmt(res.rps)} req/s, p50 ${res.p50.toFixed(2)} ms, p99 ${res.p99.toFixed(2)} ms, ${res.cpuPerRequestUs.toFixed(0)} µs CPU/req`);
        if (!x.c.serverState) continue;
        // A single-page app firing parallel calls: HOT_CONNECTIONS requests at once on ONE session, each changing it.
        const hot = await measure(x.server, { requests: requestsWithCookies('/count', [x.jar[0]!]), connections: HOT_CONNECTIONS, duration, warmup });
        x.hot.push(hot);
        log(`round ${r + 1}/${rounds} ${x.c.id} (one hot session): ${fmt(hot.rps)} req/s, p99 ${hot.p99.toFixed(2)} ms`);
      }
    }
    // The measured traffic must have hit existing sessions: their counters moved.
    for (const x of running.filter((x) => x.c.serverState)) {
      const { count } = await getJson<{ count: number }>(`${x.server.url}/count`, x.jar[0]);
      if (!(count > 2)) throw new Error(`${x.c.id}: session 0 counter is ${count} after the run; its cookies were not honoured`);
    }
  } finally {
    await Promise.all(running.map((x) => x.server.close()));
  }

  const byId = new Map(running.map((x) => [x.c.id, x]));
  // Ratios are taken round by round (a case and its anchor ran back to back), then the median.
  const paired = (x: Running, a: Running, f: (r: MeasuredResult) => number) => x.results.map((r, i) => f(r) / f(a.results[i]!));
  const rows: ThroughputRow[] = running.map((x) => ({
    name: x.c.name,
    ...(x.c.anchor ? { anchor: CASES.find((c) => c.id === x.c.anchor)!.name } : {}),
    ...(x.c.anchor && byId.has(x.c.anchor)
      ? {
          ratios: {
            rps: median(paired(x, byId.get(x.c.anchor)!, (r) => r.rps)),
            p99: median(paired(x, byId.get(x.c.anchor)!, (r) => r.p99)),
            cpu: median(paired(x, byId.get(x.c.anchor)!, (r) => r.cpuPerRequestUs)),
          },
        }
      : {}),
    ...(x.c.isAnchor ? { isAnchor: true } : {}),
    rps: median(x.results.map((r) => r.rps)),
    p50: median(x.results.map((r) => r.p50)),
    p99: median(x.results.map((r) => r.p99)),
    cpuPerRequestUs: median(x.results.map((r) => r.cpuPerRequestUs)),
  }));

  const injectCount = Number(flag(options, 'inject-count', '20000'));
  const injected = injectCount > 0 ? await injectedTable(cases, rounds, injectCount, sessions) : undefined;

  const notes: string[] = [];
  for (const x of running.filter((x) => x.c.anchor && x.c.target && byId.has(x.c.anchor))) {
    const a = byId.get(x.c.anchor!)!;
    const t = x.c.target!;
    const perRound = paired(x, a, (r) => r.rps);
    const cpuPerRound = paired(x, a, (r) => r.cpuPerRequestUs);
    const med = median(perRound);
    const cpu = median(cpuPerRound);
    notes.push(
      `- **${x.c.name}**: ${ratio(med, 1)} the req/s of ${a.c.name} (target ≥ ${t.rps}×: ${med >= t.rps ? 'met' : '**not met**'}); per round ${perRound.map((v) => v.toFixed(2)).join(', ')}. ` +
        `Server CPU per request ${ratio(cpu, 1)} the anchor's (per round ${cpuPerRound.map((v) => v.toFixed(2)).join(', ')}${t.cpu ? `; target ≤ ${t.cpu}×: ${cpu <= t.cpu ? 'met' : '**not met**'}` : ''}).`,
    );
    const inj = injected?.ratios.get(x.c.id);
    if (inj) notes.push(`  With no sockets it uses ${ratio(median(inj), 1)} the anchor's CPU per request (per round ${inj.map((v) => v.toFixed(2)).join(', ')}${t.cpu ? `; target ≤ ${t.cpu}×: ${median(inj) <= t.cpu ? 'met' : '**not met**'}` : ''}).`);
    if (x.hot.length && a.hot.length) {
      const hot = x.hot.map((h, i) => h.rps / a.hot[i]!.rps);
      notes.push(`  One hot session (${HOT_CONNECTIONS} concurrent requests on one session, each changing it): ${fmt(median(x.hot.map((h) => h.rps)))} req/s against ${fmt(median(a.hot.map((h) => h.rps)))}, ${ratio(median(hot), 1)} (per round ${hot.map((v) => v.toFixed(2)).join(', ')}); p99 ${median(x.hot.map((h) => h.p99)).toFixed(2)} ms against ${median(a.hot.map((h) => h.p99)).toFixed(2)} ms.`);
    }
  }
  const bareE = byId.get('express-bare');
  const anchorE = byId.get('express-session');
  if (bareE && anchorE) notes.push(`- express-session + MemoryStore alone runs at ${ratio(median(anchorE.results.map((r) => r.rps)), median(bareE.results.map((r) => r.rps)))} of bare Express.`);
  const bareK = byId.get('koa-bare');
  const anchorK = byId.get('koa-session-memory');
  if (bareK && anchorK) notes.push(`- koa-session with an in-memory store alone runs at ${ratio(median(anchorK.results.map((r) => r.rps)), median(bareK.results.map((r) => r.rps)))} of bare Koa.`);

  const section = [
    '## Session middleware: Express and Koa',
    '',
    `\`GET /count\` reads the session, increments a counter and saves it. ${sessions} sessions are created first and the load sends their cookies round-robin, so this is returning-client traffic (a read, a modify and a write per request), not session creation. ` +
      'Anchors: **express-session + MemoryStore** for `@scaleout/express`; **koa-session with an in-memory external store** for `@scaleout/koa` ' +
      "(like ours, it keeps the session on the server and only an id in the cookie; koa-session's default cookie store keeps no server state, so it is shown for reference only). Bare Express and bare Koa are the ceilings.",
    '',
    '### Over HTTP',
    '',
    `autocannon: ${connections} connections, 1 thread, ${warmup} s warm-up then ${duration} s measured per case, ${rounds} round(s) with the cases alternating; each server in its own process. Figures are medians over rounds; a ratio is the median of the rounds' ratios (a case and its anchor run back to back). ` +
      'Server CPU µs/req is the CPU the server process used per response, which other load on the machine moves much less than req/s.',
    '',
    throughputTable(rows),
    '',
    ...(injected
      ? [
          '### CPU per request with no sockets',
          '',
          `The same apps and the same ${sessions}-session jar, with requests handed straight to each app in the benchmark process (${injectCount} per case and round, 50 in flight, each started in a turn of the event loop of its own, as a socket read would): the work of the framework and the session middleware only. Ratios are medians of the rounds' ratios.`,
          '',
          injected.table,
          '',
        ]
      : []),
    '### Reading it',
    '',
    ...notes,
    '- What `@scaleout/*` does beyond the anchors on every request: the save finished before the response is sent (a failed save is a 503), a timeout on every store operation, only the changed keys saved (concurrent requests that change different keys both survive), and one cookie format for Express and Koa nodes.',
  ].join('\n');

  if (options.profile) {
    // Only the measured runs count: start-up, session creation and warm-ups are cut out.
    const summaries = new Map<string, ProfileSummary>();
    for (const x of running) {
      const file = await latestProfile(join(PROFILE_DIR, x.c.id));
      const windows = x.results.flatMap((r) => (r.window ? [r.window] : []));
      if (file) summaries.set(x.c.id, await summarizeProfile(file, { top: 400, windows }));
    }
    for (const x of running) {
      const s = summaries.get(x.c.id);
      if (s) log(`\n### ${x.c.name}\n\n${formatSummary({ ...s, byPackage: s.byPackage.slice(0, 15), topFunctions: s.topFunctions.slice(0, 25) })}\n`);
    }
    for (const x of running.filter((x) => x.c.anchor && x.c.id.startsWith('scaleout'))) {
      const a = summaries.get(x.c.anchor!);
      const o = summaries.get(x.c.id);
      if (a && o) log(`\n### ${x.c.name} against ${byId.get(x.c.anchor!)!.c.name}\n\n${compareProfiles(a, o)}\n`);
    }
  }
  return section;
}
