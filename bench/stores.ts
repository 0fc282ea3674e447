/**
 * `npm run bench -- stores`, or alone: `node --conditions=@scaleout/source --import tsx bench/stores.ts`.
 *
 * Two loads on external stores, in the same run:
 *
 * - **many sessions**: the traffic of the `middleware` benchmark (`GET /count`: read the session,
 *   increment, save; N sessions created first, their cookies sent round-robin);
 * - **one hot session**: 20 connections send requests of ONE session at once, each writing a new
 *   value to one of 20 keys (`GET /set?key=K`). After the rounds, 200 requests in waves of 20,
 *   each setting a key of its own on a fresh session, count the keys each store kept
 *   (connect-redis saves the whole session, so concurrent requests overwrite each other's keys).
 *
 * The cases:
 *
 * - **express-session + connect-redis v8** over an ioredis client (ANCHOR);
 * - `@scaleout/express` with `RedisStore` (`store.type: "redis"`), against the same Redis;
 * - `@scaleout/express` with `HazelcastStore` (`store.type: "hazelcast"`, one member);
 * - `@scaleout/express` on the memory store and on the cluster strategy (one node), as in-process
 *   references: their per-key merge should keep up with the Redis path on the hot session.
 *
 * Redis and the Hazelcast member are started here on free ports (as the tests do) and stopped at
 * the end. Each server runs in its own child process. Run alone, it also writes the section with
 * the command, the date and the machine to docs/store-benchmarks.md.
 *
 * Own flags: `--sessions=500`, `--hot-connections=20`.
 */
import { writeFile } from 'node:fs/promises';
import type { RequestListener } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import type { BenchOptions } from './support/options.js';
import { benchOptions, flag, parseArgs, sessionLoadSettings } from './support/options.js';
import { startServerChild, type ServerHandle } from './support/server.js';
import { measure, requestsWithCookies, type LoadRequest, type MeasuredResult } from './support/load.js';
import { createSessions, getJson } from './support/sessions.js';
import { expressSessionApp } from './support/session-apps.js';
import type { ServedApp } from './support/child.js';
import { fmt, median, ratio, throughputTable, type ThroughputRow } from './support/table.js';
import { runHeader } from './support/machine.js';
import { startHazelcast, startRedis } from '@scaleout/harness';

const SELF = fileURLToPath(import.meta.url);
const DOC = fileURLToPath(new URL('../docs/store-benchmarks.md', import.meta.url));
/** Targets of `RedisStore` against connect-redis: req/s with 500 sessions, CPU per request, req/s on the hot session. */
const TARGET = { rps: 1.2, cpu: 1.0, hot: 1.0 };
/** Requests the hot-session check sends, in waves of the hot load's connections. */
const HOT_CHECK_KEYS = 200;

/** Served in a child: express-session with connect-redis v8 on its own ioredis client. */
export async function connectRedisApp(options: { url: string }): Promise<ServedApp> {
  const client = new Redis(options.url);
  const store = new ConnectRedisStore({ client, prefix: 'cr:' });
  const listener = expressSessionApp({ store }) as RequestListener;
  return { listener, close: () => client.quit() };
}

const APPS = fileURLToPath(new URL('./support/session-apps.ts', import.meta.url));

interface Case {
  id: string;
  name: string;
  /** The module the child process imports, and its factory. */
  module: string;
  factory: string;
  options: (env: { redisUrl: string; members: string[] }) => unknown;
}

const ANCHOR = 'connect-redis';
const CASES: readonly Case[] = [
  { id: ANCHOR, name: 'Express + express-session + connect-redis 8 (ioredis)', module: SELF, factory: 'connectRedisApp', options: (e) => ({ url: e.redisUrl }) },
  {
    id: 'scaleout-redis',
    name: 'Express + @scaleout/express + RedisStore',
    module: APPS,
    factory: 'scaleoutExpressApp',
    options: (e) => ({ config: { store: { type: 'redis', url: e.redisUrl, prefix: 'so:' } } }),
  },
  {
    id: 'scaleout-hazelcast',
    name: 'Express + @scaleout/express + HazelcastStore',
    module: APPS,
    factory: 'scaleoutExpressApp',
    options: (e) => ({ config: { store: { type: 'hazelcast', members: e.members, clusterName: 'bench', map: 'sessions' } } }),
  },
  // In-process references for the hot session: both keep the per-key merge in memory.
  { id: 'scaleout-memory', name: 'Express + @scaleout/express + MemoryStore (one process)', module: APPS, factory: 'scaleoutExpressApp', options: () => ({ config: { store: { type: 'memory' } } }) },
  {
    id: 'scaleout-cluster',
    name: 'Express + @scaleout/express, cluster strategy (one node, in-process transport)',
    module: APPS,
    factory: 'scaleoutExpressApp',
    options: () => ({ config: { strategy: 'cluster', nodeId: 'bench', cluster: { transport: { type: 'in-process', bus: 'bench' }, discoveryWait: 1 } } }),
  },
];

function log(line: string): void {
  process.stderr.write(`[stores] ${line}\n`);
}

/** The hot-session load's requests: one cookie, 20 keys (each connection cycles through them; each request writes a new value). */
function hotRequests(cookie: string): LoadRequest[] {
  return Array.from({ length: 20 }, (_, i) => ({ method: 'GET', path: `/set?key=${i}`, headers: { cookie } }));
}

/** Sends `HOT_CHECK_KEYS` requests of one new session, `concurrency` at a time, each setting its own key; returns how many keys the session lost. */
async function lostKeys(url: string, concurrency: number): Promise<number> {
  const [cookie] = await createSessions(url, { path: '/count', count: 1 });
  for (let sent = 0; sent < HOT_CHECK_KEYS; sent += concurrency) {
    const wave = Array.from({ length: Math.min(concurrency, HOT_CHECK_KEYS - sent) }, (_, i) => fetch(`${url}/set?key=check-${sent + i}`, { headers: { cookie: cookie! } }));
    for (const res of await Promise.all(wave)) {
      if (res.status !== 200) throw new Error(`GET /set answered ${res.status}`);
      await res.arrayBuffer();
    }
  }
  const { keys } = await getJson<{ keys: number }>(`${url}/keys`, cookie);
  return HOT_CHECK_KEYS - keys;
}

type Running = { c: Case; server: ServerHandle; jar: string[]; hot: LoadRequest[]; results: MeasuredResult[]; hotResults: MeasuredResult[]; lost?: number };

/** The table rows of one load, each case against connect-redis by the median of its per-round ratios. */
function rowsOf(running: readonly Running[], pick: (x: Running) => MeasuredResult[]): ThroughputRow[] {
  const anchor = running.find((x) => x.c.id === ANCHOR)!;
  const perRound = (x: Running, f: (m: MeasuredResult) => number) => pick(x).map((m, i) => f(m) / f(pick(anchor)[i]!));
  return running.map((x) => ({
    name: x.c.name,
    ...(x === anchor
      ? { isAnchor: true }
      : { anchor: anchor.c.name, ratios: { rps: median(perRound(x, (m) => m.rps)), p99: median(perRound(x, (m) => m.p99)), cpu: median(perRound(x, (m) => m.cpuPerRequestUs)) } }),
    rps: median(pick(x).map((m) => m.rps)),
    p50: median(pick(x).map((m) => m.p50)),
    p99: median(pick(x).map((m) => m.p99)),
    cpuPerRequestUs: median(pick(x).map((m) => m.cpuPerRequestUs)),
  }));
}

/** Runs the benchmark; returns its markdown section. */
export async function run(options: BenchOptions = {}): Promise<string> {
  const { duration, warmup, connections, rounds, sessions } = sessionLoadSettings(options);
  const hotConnections = Number(flag(options, 'hot-connections', '20'));
  if (!Number.isInteger(hotConnections) || hotConnections < 1) throw new Error(`--hot-connections: expected a whole number >= 1, got ${hotConnections}`);

  const [redis, hazelcast] = await Promise.all([startRedis(), startHazelcast({ members: 1, clusterName: 'bench' })]);
  const env = { redisUrl: redis.url, members: hazelcast.addresses };
  const running: Running[] = [];
  try {
    for (const c of CASES) {
      const server = await startServerChild({ module: c.module, export: c.factory, options: c.options(env) });
      const jar = await createSessions(server.url, { path: '/count', count: sessions });
      const [hotCookie] = await createSessions(server.url, { path: '/count', count: 1 });
      running.push({ c, server, jar, hot: hotRequests(hotCookie!), results: [], hotResults: [] });
      log(`${c.id}: pid ${server.pid} on ${server.url}, ${jar.length} sessions`);
    }
    for (let r = 0; r < rounds; r++) {
      // Alternate the order so that no case always meets the same moment of background load.
      for (const x of r % 2 ? [...running].reverse() : running) {
        const res = await measure(x.server, { requests: requestsWithCookies('/count', x.jar), connections, duration, warmup });
        x.results.push(res);
        log(`round ${r + 1}/${rounds} ${x.c.id}: ${fmt(res.rps)} req/s, p50 ${res.p50.toFixed(2)} ms, p99 ${res.p99.toFixed(2)} ms, ${res.cpuPerRequestUs.toFixed(0)} µs CPU/req`);
        const hot = await measure(x.server, { requests: x.hot, connections: hotConnections, duration, warmup });
        x.hotResults.push(hot);
        log(`round ${r + 1}/${rounds} ${x.c.id} hot session: ${fmt(hot.rps)} req/s, p50 ${hot.p50.toFixed(2)} ms, p99 ${hot.p99.toFixed(2)} ms, ${hot.cpuPerRequestUs.toFixed(0)} µs CPU/req`);
      }
    }
    for (const x of running) {
      x.lost = await lostKeys(x.server.url, hotConnections);
      log(`${x.c.id}: ${x.lost} of ${HOT_CHECK_KEYS} keys lost`);
    }
    for (const x of running) {
      const { count } = await getJson<{ count: number }>(`${x.server.url}/count`, x.jar[0]);
      if (!(count > 2)) throw new Error(`${x.c.id}: session 0 counter is ${count} after the run; its cookies were not honoured`);
    }
  } finally {
    await Promise.all(running.map((x) => x.server.close()));
    await Promise.all([redis.stop(), hazelcast.stop()]);
  }

  const anchor = running.find((x) => x.c.id === ANCHOR)!;
  const perRound = (x: Running, f: (m: MeasuredResult) => number) => x.results.map((m, i) => f(m) / f(anchor.results[i]!));
  const rows = rowsOf(running, (x) => x.results);
  const hotRows = rowsOf(running, (x) => x.hotResults);
  const hotRatio = (x: Running) => median(x.hotResults.map((m, i) => m.rps / anchor.hotResults[i]!.rps));
  const notes = running
    .filter((x) => x !== anchor)
    .map((x) => {
      const rps = perRound(x, (m) => m.rps);
      const cpu = perRound(x, (m) => m.cpuPerRequestUs);
      // With the CPU saturated, req/s follows CPU per request: its inverse resists background load.
      const byCpu = 1 / median(cpu);
      // Judged on the ratio as printed, so that "1.00×" never reads "not met".
      const met = (ok: boolean) => (ok ? 'met' : '**not met**');
      const redis = x.c.id === 'scaleout-redis';
      const target = redis ? ` (target ≥ ${TARGET.rps.toFixed(1)}×: ${met(Number(median(rps).toFixed(2)) >= TARGET.rps)})` : '';
      return (
        `- **${x.c.name}**: ${ratio(median(rps), 1)} the req/s of connect-redis${target}; per round ${rps.map((v) => v.toFixed(2)).join(', ')}. ` +
        `Server CPU per request ${ratio(median(cpu), 1)} connect-redis's (per round ${cpu.map((v) => v.toFixed(2)).join(', ')})` +
        (redis ? ` (target ≤ ${TARGET.cpu.toFixed(1)}×: ${met(Number(median(cpu).toFixed(2)) <= TARGET.cpu)})` : '') +
        `: it would serve ${ratio(byCpu, 1)} connect-redis's req/s on a saturated core.`
      );
    });
  return [
    '## Session stores: Redis and Hazelcast',
    '',
    `\`GET /count\` reads the session, increments a counter and saves it; ${sessions} sessions are created first and their cookies sent round-robin (returning clients). ` +
      `Redis standalone and one Hazelcast 5.5 member on loopback, started by the benchmark. autocannon: ${connections} connections, ${warmup} s warm-up then ${duration} s measured per case, ` +
      `${rounds} round(s), cases alternating; each server in its own process; medians over rounds, ratios are the median of each round's ratio.`,
    '',
    throughputTable(rows),
    '',
    ...notes,
    '',
    `### One hot session`,
    '',
    `${hotConnections} connections send requests of ONE session at once, each writing a new value to one of 20 keys (\`GET /set?key=K\`); same rounds and durations. ` +
      `Then ${HOT_CHECK_KEYS} such requests on a fresh session, ${hotConnections} at a time, count the keys each store kept.`,
    '',
    throughputTable(hotRows),
    '',
    ...running.map(
      (x) =>
        `- **${x.c.name}**: ${x === anchor ? '' : `${ratio(hotRatio(x), 1)} the req/s of connect-redis on the hot session${x.c.id === 'scaleout-redis' ? ` (target ≥ ${TARGET.hot.toFixed(1)}×: ${Number(hotRatio(x).toFixed(2)) >= TARGET.hot ? 'met' : '**not met**'})` : ''}; `}` +
        `${x.lost} of ${HOT_CHECK_KEYS} keys lost${x === anchor ? ' (each save writes the whole session it read, over the keys other requests saved meanwhile)' : ''}.`,
    ),
    '- The timed hot load cycles through 20 keys, each request writing a new value, so every case holds a session of the same size; keys lost show only in the count after it.',
    '- Per request, both Redis cases make two round trips: a read (connect-redis GET, `RedisStore` HGETALL), then connect-redis SETs the whole session while `RedisStore` ' +
      'writes only the changed fields of the session hash (one EVALSHA of a short Lua script, no read first), so that concurrent requests changing different keys do not overwrite each other. ' +
      '`RedisStore` also bounds every call by its command timeout and maps failures to coded errors (a 503), and `@scaleout/express` finishes the save before the response goes out.',
    '- The memory store and the cluster strategy keep their per-key merge in process; their hot-session rows are the in-process references the Redis path is held against.',
    '- req/s moves by a factor of two or more from round to round when other work shares the 2 cores; server CPU per request moves by about 10%, so the ratio by CPU is the one to read on a busy machine.',
    '- The Hazelcast row pays for the client protocol and the member on the JVM; it is the store to pick for its replication (backup-count), not for raw speed.',
  ].join('\n');
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const { flags } = parseArgs(process.argv.slice(2));
  const section = await run(benchOptions(flags));
  const command = `node --conditions=@scaleout/source --import tsx bench/stores.ts ${process.argv.slice(2).join(' ')}`.trim();
  const doc = `# Session store benchmarks\n\n${runHeader({ command })}\n${section}\n`;
  if (flags.write !== false) await writeFile(DOC, doc);
  process.stdout.write(`${doc}\n`);
}
