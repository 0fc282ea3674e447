/**
 * `npm run bench -- directory`: what the index of sessions by user costs and gives, on Redis and
 * on Hazelcast.
 *
 * - **byUser**: `--sessions=100000` sessions across `--users=30000` users are written first
 *   (pipelined through the store, 200 at a time), then `strategy.sessions.byUser()` is timed for
 *   `--lookups=2000` users picked at random: p50 and p99. The cost must grow with the user's
 *   sessions (3 or 4 here), not with the store.
 * - **login**: what `login` asks of the store, a full write of the new session with its user
 *   and the destroy of the old id, timed one after the other, with the index and without it.
 * - **per request**: the store's part of a request that changes a logged-in session (the patch
 *   the middleware sends), with the index and without it: the overhead the index adds on the
 *   middleware path, as a ratio. The HTTP and framework work of a request comes on top of both,
 *   so the ratio here is an upper bound of what the middleware benchmark would show.
 *
 * Redis and a Hazelcast member are started here on free ports (as the tests do) and stopped at
 * the end; the stores run in this process. Each backend is measured with the same figures:
 * Redis with a set per user (`SMEMBERS` and an `EXISTS` per id), Hazelcast with a companion map
 * and an indexed predicate. "No index" is a second store on the same server (another prefix, or
 * another map) that never indexes.
 */
import { createStrategy, type SessionStore, type Strategy } from '@scaleout/core';
import { RedisStore } from '@scaleout/redis';
import { HazelcastStore } from '@scaleout/hazelcast';
import type { BenchOptions } from './support/options.js';
import { flag } from './support/options.js';
import { fmt, markdownTable, ratio } from './support/table.js';
import { startHazelcast, startRedis } from '@scaleout/harness';

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

export async function run(options: BenchOptions = {}): Promise<string> {
  const f: Figures = {
    sessions: whole(options, 'sessions', 100_000),
    users: whole(options, 'users', 30_000),
    lookups: whole(options, 'lookups', 2000),
    ops: whole(options, 'ops', 5000),
    ttl: 30 * 60_000,
  };
  const rows = [...(await onRedis(f)), ...(await onHazelcast(f))];
  return [
    '## Sessions by user: the index on Redis and Hazelcast',
    '',
    markdownTable(['backend', 'operation', 'case', 'p50 ms', 'p99 ms', 'mean ms', 'mean vs no index'], rows),
    '',
    `byUser: ${fmt(f.lookups)} lookups of random users (target: p99 under 2 ms). Login and the request save: ${fmt(f.ops)} calls each, one after the other, on one client. The backends run one after the other, each on its own server started here.`,
  ].join('\n');
}
