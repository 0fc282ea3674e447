/**
 * `npm run bench -- directory`: what the index of sessions by user costs and gives, on Redis and
 * on Hazelcast.
 *
 * - **byUser**: `--sessions=100000` sessions across `--users=30000` users are written first
 *   (pipelined through the store, 200 at a time), then, after `--lookup-warmup=500` untimed
 *   lookups, `strategy.sessions.byUser()` is timed for `--lookups=2000` users picked at random:
 *   p50 and p99. The cost must grow with the user's sessions (3 or 4 here), not with the store.
 * - **login**: what `login` asks of the store, a full write of the new session with its user
 *   and the destroy of the old id, timed one after the other, with the index and without it.
 * - **per request**: the store's part of a request that changes a logged-in session (the patch
 *   the middleware sends), with the index and without it: the overhead the index adds on the
 *   middleware path, as a ratio. The HTTP and framework work of a request comes on top of both,
 *   so the ratio here is an upper bound of what the middleware benchmark would show.
 * - **through the middleware**: an Express app with `@scaleout/express` on the store, in its own
 *   process, `--http-sessions=500` sessions logged in first through its `GET /login` route (the
 *   real `login()`), then `GET /count` (read the session, change a counter, save) with their
 *   cookies round-robin over HTTP, as `middleware` and `stores` load it: the same app with the
 *   index and with the store's `indexUsers` left out. Requests/s and the server's CPU per
 *   request, and their ratios (target: the index costs under 5% more CPU per request).
 *   `--http=redis,hazelcast` picks the backends (`--http=` none); rounds, duration, warm-up and
 *   connections are the common flags.
 *
 * Redis and a Hazelcast member are started here on free ports (as the tests do) and stopped at
 * the end; the stores of the first three run in this process. Each backend is measured with the
 * same figures:
 * Redis with a set per user (`SMEMBERS` and an `EXISTS` per id), Hazelcast with a companion map
 * and an indexed predicate. "No index" is a second store on the same server (another prefix, or
 * another map) that never indexes.
 */
import type { RequestListener } from 'node:http';
import { fileURLToPath } from 'node:url';
import type express from 'express';
import { assembleStrategy, createStrategy, parseConfig, type ScaleoutConfigInput, type SessionStore, type Strategy } from '@scaleout/core';
import { login, session } from '@scaleout/express';
import { createStore as createRedisStore, RedisStore } from '@scaleout/redis';
import { createStore as createHazelcastStore, HazelcastStore } from '@scaleout/hazelcast';
import type { BenchOptions } from './support/options.js';
import { flag, sessionLoadSettings } from './support/options.js';
import { fmt, markdownTable, median, ratio } from './support/table.js';
import { startServerChild, type ServerHandle } from './support/server.js';
import { measure as measureLoad, requestsWithCookies, type MeasuredResult } from './support/load.js';
import { createSessions, getJson } from './support/sessions.js';
import { expressWith } from './support/session-apps.js';
import type { ServedApp } from './support/child.js';
import { startHazelcast, startRedis } from '@scaleout/harness';

const SELF = fileURLToPath(import.meta.url);
/** The index's cost through the middleware: at most this much more server CPU per request. */
const HTTP_TARGET_CPU = 1.05;

function whole(options: BenchOptions, key: string, fallback: number): number {
  const n = Number(flag(options, key, String(fallback)));
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${key}: expected a whole number >= 1, got ${n}`);
  return n;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
}

/** Milliseconds each call of `fn(i)` took, one after the other, `n` times. */
async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out.sort((a, b) => a - b);
}

const cookie = (ttlMs: number) => ({ originalMaxAge: ttlMs, expires: new Date(Date.now() + ttlMs).toISOString() });

/** The figures every backend is measured with. */
interface Figures {
  sessions: number;
  users: number;
  lookups: number;
  /** Untimed lookups before the timed ones. */
  lookupWarmup: number;
  ops: number;
  ttl: number;
}

/** The rows of one backend: byUser over `strategy` (whose store indexes), login and patch with the index and on `plain` without it. */
async function measure(backend: string, strategy: Strategy, plain: SessionStore, f: Figures): Promise<string[][]> {
  const indexed = strategy.store;
  const { ttl } = f;
  for (let i = 0; i < f.sessions; i += 200) {
    const batch = [];
    for (let k = i; k < Math.min(f.sessions, i + 200); k++) batch.push(indexed.set(`s-${k}`, { userId: `user-${k % f.users}`, cookie: cookie(ttl), n: k }, ttl));
    await Promise.all(batch);
  }
  // Untimed lookups first (other users than the timed ones), so that the timed ones meet code already
  // compiled and not the collection of the setup's garbage: the steady state a server lives in.
  await timed(f.lookupWarmup, (i) => strategy.sessions.byUser(`user-${(i * 7919 + 1) % f.users}`));
  const byUser = await timed(f.lookups, (i) => strategy.sessions.byUser(`user-${(i * 7919) % f.users}`));

  const login = async (store: SessionStore, i: number) => {
    await store.set(`login-${i}`, { userId: `login-user-${i % 100}`, cookie: cookie(ttl) }, ttl);
    await store.destroy(`old-${i}`);
  };
  const loginIndexed = await timed(f.ops, (i) => login(indexed, i));
  const loginPlain = await timed(f.ops, (i) => login(plain, i));

  await indexed.set('hot', { userId: 'hot-user', cookie: cookie(ttl), n: 0 }, ttl);
  await plain.set('hot', { userId: 'hot-user', cookie: cookie(ttl), n: 0 }, ttl);
  const patchIndexed = await timed(f.ops, (i) => indexed.patch!('hot', { set: { n: i }, unset: [] }, ttl));
  const patchPlain = await timed(f.ops, (i) => plain.patch!('hot', { set: { n: i }, unset: [] }, ttl));
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const row = (operation: string, kase: string, v: number[], vs: string) => [backend, operation, kase, fmt(percentile(v, 50), 3), fmt(percentile(v, 99), 3), fmt(mean(v), 3), vs];

  return [
    [backend, 'byUser', `${fmt(f.sessions)} sessions, ${fmt(f.users)} users`, fmt(percentile(byUser, 50), 3), fmt(percentile(byUser, 99), 3), fmt(mean(byUser), 3), '–'],
    row('login (set + destroy)', 'index', loginIndexed, ratio(mean(loginIndexed), mean(loginPlain))),
    row('login (set + destroy)', 'no index', loginPlain, 'anchor'),
    row('request save (patch)', 'index', patchIndexed, ratio(mean(patchIndexed), mean(patchPlain))),
    row('request save (patch)', 'no index', patchPlain, 'anchor'),
  ];
}

async function onRedis(f: Figures): Promise<string[][]> {
  const redis = await startRedis();
  let strategy: Strategy | undefined;
  let plain: RedisStore | undefined;
  try {
    strategy = await createStrategy({ strategy: 'store', nodeId: 'bench', secret: 'bench-directory', session: { ttl: '30m' }, store: { type: 'redis', url: redis.url, prefix: 'dir:' } });
    const indexed = strategy.store as unknown as RedisStore;
    plain = new RedisStore({ client: indexed.client.duplicate(), ownsClient: true, prefix: 'plain:' });
    await plain.client.connect().catch(() => undefined);
    return await measure('Redis', strategy, plain, f);
  } finally {
    await plain?.close();
    await strategy?.close();
    await redis.stop();
  }
}

async function onHazelcast(f: Figures): Promise<string[][]> {
  const hazelcast = await startHazelcast({ members: 1, clusterName: 'bench-directory' });
  let strategy: Strategy | undefined;
  let plain: HazelcastStore | undefined;
  try {
    strategy = await createStrategy({ strategy: 'store', nodeId: 'bench', secret: 'bench-directory', session: { ttl: '30m' }, store: { type: 'hazelcast', members: hazelcast.addresses, clusterName: 'bench-directory', map: 'dir' } });
    const indexed = strategy.store as unknown as HazelcastStore;
    // The same member and client, another map that is never indexed.
    plain = await HazelcastStore.fromClient(indexed.client, { mapName: 'plain' });
    return await measure('Hazelcast', strategy, plain, f);
  } finally {
    await plain?.close();
    await strategy?.close();
    await hazelcast.stop();
  }
}

/** Options of {@link directoryApp}. */
interface DirectoryAppOptions {
  /** The `store` section of the config. */
  store: ScaleoutConfigInput['store'];
  /** Keep the index of sessions by user (the default), or leave the store's `indexUsers` out. */
  index: boolean;
}

/**
 * Served in a child: Express with `@scaleout/express` on the store `store` describes, `GET /count`
 * and the rest of the session benchmarks' routes, and `GET /login`, which logs a new user in
 * with `login()`. Without `index`, the store's `indexUsers` is left out, so nothing is indexed.
 */
export async function directoryApp(options: DirectoryAppOptions): Promise<ServedApp> {
  const config = parseConfig({ strategy: 'store', nodeId: 'bench', secret: 'bench-directory', session: { ttl: '30m' }, store: options.store });
  const section = config.store as unknown as { type: string };
  const store: SessionStore = section.type === 'redis' ? await createRedisStore(section as never) : await createHazelcastStore(section as never);
  if (!options.index) store.indexUsers = undefined;
  const strategy = assembleStrategy({ kind: 'store', nodeId: 'bench', store, config });
  const app = expressWith(session(strategy) as express.RequestHandler);
  let users = 0;
  app.get('/login', async (req, res) => {
    await login(req, `user-${++users}`);
    res.json({ ok: true });
  });
  return { listener: app as unknown as RequestListener, close: () => strategy.close() };
}

interface HttpCase {
  backend: string;
  index: boolean;
  server: ServerHandle;
  jar: string[];
  results: MeasuredResult[];
}

/** The middleware case: per backend, the same app with the index and without, alternating within each round. */
async function throughMiddleware(options: BenchOptions, backends: readonly string[]): Promise<string[]> {
  if (backends.length === 0) return [];
  const { duration, warmup, connections, rounds, sessions } = sessionLoadSettings({ ...options, flags: { ...options.flags, sessions: flag(options, 'http-sessions', '500') } });
  const redis = backends.includes('redis') ? await startRedis() : undefined;
  const hazelcast = backends.includes('hazelcast') ? await startHazelcast({ members: 1, clusterName: 'bench-directory-http' }) : undefined;
  const sections: Record<string, ScaleoutConfigInput['store']> = {
    ...(redis && { redis: { type: 'redis', url: redis.url, prefix: 'http:' } }),
    ...(hazelcast && { hazelcast: { type: 'hazelcast', members: hazelcast.addresses, clusterName: 'bench-directory-http', map: 'http' } }),
  };
  const cases: HttpCase[] = [];
  try {
    for (const backend of backends) {
      for (const index of [true, false]) {
        const store = { ...sections[backend]!, ...(backend === 'redis' ? { prefix: index ? 'http-index:' : 'http-plain:' } : { map: index ? 'http-index' : 'http-plain' }) };
        const server = await startServerChild({ module: SELF, export: 'directoryApp', options: { store, index } satisfies DirectoryAppOptions });
        const jar = await createSessions(server.url, { path: '/login', count: sessions });
        cases.push({ backend, index, server, jar, results: [] });
      }
    }
    for (let r = 0; r < rounds; r++) {
      for (const c of r % 2 ? [...cases].reverse() : cases) {
        const res = await measureLoad(c.server, { requests: requestsWithCookies('/count', c.jar), connections, duration, warmup });
        c.results.push(res);
        process.stderr.write(`[directory] round ${r + 1}/${rounds} ${c.backend} ${c.index ? 'index' : 'no index'}: ${fmt(res.rps)} req/s, ${res.cpuPerRequestUs.toFixed(0)} µs CPU/req\n`);
      }
    }
    for (const c of cases) {
      const { count } = await getJson<{ count: number }>(`${c.server.url}/count`, c.jar[0]);
      if (!(count > 1)) throw new Error(`${c.backend}: session 0 counter is ${count} after the run; its cookies were not honoured`);
    }
  } finally {
    await Promise.all(cases.map((c) => c.server.close()));
    await Promise.all([redis?.stop(), hazelcast?.stop()]);
  }
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const backend of backends) {
    const [on, off] = [true, false].map((index) => cases.find((c) => c.backend === backend && c.index === index)!);
    const perRound = (f: (m: MeasuredResult) => number) => on!.results.map((m, i) => f(m) / f(off!.results[i]!));
    const cpu = median(perRound((m) => m.cpuPerRequestUs));
    const rps = median(perRound((m) => m.rps));
    for (const c of [on!, off!]) {
      const med = (f: (m: MeasuredResult) => number) => median(c.results.map(f));
      rows.push([backend === 'redis' ? 'Redis' : 'Hazelcast', c.index ? 'index' : 'no index', fmt(med((m) => m.rps)), fmt(med((m) => m.p99), 2), fmt(med((m) => m.cpuPerRequestUs)), c.index ? ratio(rps, 1) : 'anchor', c.index ? ratio(cpu, 1) : 'anchor']);
    }
    const met = Number(cpu.toFixed(2)) <= HTTP_TARGET_CPU;
    notes.push(`- **${backend === 'redis' ? 'Redis' : 'Hazelcast'}**: the index costs ${ratio(cpu, 1)} the server CPU per request without it (target ≤ ${HTTP_TARGET_CPU.toFixed(2)}×: ${met ? 'met' : '**not met**'}; per round ${perRound((m) => m.cpuPerRequestUs).map((v) => v.toFixed(2)).join(', ')}), ${ratio(rps, 1)} its req/s.`);
  }
  return [
    '### Through the middleware: the index on and off',
    '',
    `Express with \`@scaleout/express\`, each case in its own process; ${sessions} sessions logged in first through \`GET /login\` (\`login()\`), then \`GET /count\` (reads the session, changes a counter, saves it) with their cookies round-robin. ` +
      `autocannon: ${connections} connections, ${warmup} s warm-up then ${duration} s measured per case, ${rounds} round(s), cases alternating; medians over rounds, ratios the median of each round's ratio.`,
    '',
    markdownTable(['backend', 'case', 'req/s', 'p99 ms', 'CPU µs/req', 'req/s vs no index', 'CPU/req vs no index'], rows),
    '',
    ...notes,
  ];
}

export async function run(options: BenchOptions = {}): Promise<string> {
  const f: Figures = {
    sessions: whole(options, 'sessions', 100_000),
    users: whole(options, 'users', 30_000),
    lookups: whole(options, 'lookups', 2000),
    lookupWarmup: whole(options, 'lookup-warmup', 500),
    ops: whole(options, 'ops', 5000),
    ttl: 30 * 60_000,
  };
  const http = flag(options, 'http', 'redis,hazelcast').split(',').filter(Boolean);
  for (const b of http) if (b !== 'redis' && b !== 'hazelcast') throw new Error(`--http: expected redis and/or hazelcast, got ${JSON.stringify(b)}`);
  const rows = [...(await onRedis(f)), ...(await onHazelcast(f))];
  const middleware = await throughMiddleware(options, http);
  return [
    '## Sessions by user: the index on Redis and Hazelcast',
    '',
    markdownTable(['backend', 'operation', 'case', 'p50 ms', 'p99 ms', 'mean ms', 'mean vs no index'], rows),
    '',
    `byUser: ${fmt(f.lookups)} lookups of random users after ${fmt(f.lookupWarmup)} untimed ones (target: p99 under 2 ms). Login and the request save: ${fmt(f.ops)} calls each, one after the other, on one client. The backends run one after the other, each on its own server started here.`,
    ...(middleware.length ? ['', ...middleware] : []),
  ].join('\n');
}
