/**
 * `npm run bench -- directory`: what the index of sessions by user costs and gives on Redis.
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
 * Redis is started here on a free port (as the tests do) and stopped at the end; the store runs
 * in this process. Hazelcast (a companion map with an indexed predicate) is not measured here yet.
 */
import { createStrategy, type Strategy } from '@scaleout/core';
import { RedisStore } from '@scaleout/redis';
import type { BenchOptions } from './support/options.js';
import { flag } from './support/options.js';
import { fmt, markdownTable, ratio } from './support/table.js';
import { startRedis } from '@scaleout/harness';

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

export async function run(options: BenchOptions = {}): Promise<string> {
  const sessions = whole(options, 'sessions', 100_000);
  const users = whole(options, 'users', 30_000);
  const lookups = whole(options, 'lookups', 2000);
  const ops = whole(options, 'ops', 5000);
  const ttl = 30 * 60_000;
  const redis = await startRedis();
  let strategy: Strategy | undefined;
  let plain: RedisStore | undefined;
  try {
    strategy = await createStrategy({ strategy: 'store', nodeId: 'bench', secret: 'bench-directory', session: { ttl: '30m' }, store: { type: 'redis', url: redis.url, prefix: 'dir:' } });
    const indexed = strategy.store as unknown as RedisStore;
    // The same Redis without the index: a second store on its own prefix that never indexes.
    plain = new RedisStore({ client: indexed.client.duplicate(), ownsClient: true, prefix: 'plain:' });
    await plain.client.connect().catch(() => undefined);

    for (let i = 0; i < sessions; i += 200) {
      const batch = [];
      for (let k = i; k < Math.min(sessions, i + 200); k++) batch.push(indexed.set(`s-${k}`, { userId: `user-${k % users}`, cookie: cookie(ttl), n: k }, ttl));
      await Promise.all(batch);
    }
    const byUser = await timed(lookups, (i) => strategy!.sessions.byUser(`user-${(i * 7919) % users}`));

    const login = async (store: RedisStore, i: number) => {
      await store.set(`login-${i}`, { userId: `login-user-${i % 100}`, cookie: cookie(ttl) }, ttl);
      await store.destroy(`old-${i}`);
    };
    const loginIndexed = await timed(ops, (i) => login(indexed, i));
    const loginPlain = await timed(ops, (i) => login(plain!, i));

    await indexed.set('hot', { userId: 'hot-user', cookie: cookie(ttl), n: 0 }, ttl);
    await plain.set('hot', { userId: 'hot-user', cookie: cookie(ttl), n: 0 }, ttl);
    const patchIndexed = await timed(ops, (i) => indexed.patch('hot', { set: { n: i }, unset: [] }, ttl));
    const patchPlain = await timed(ops, (i) => plain!.patch('hot', { set: { n: i }, unset: [] }, ttl));
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

    const rows = [
      ['byUser', `${fmt(sessions)} sessions, ${fmt(users)} users`, fmt(percentile(byUser, 50), 3), fmt(percentile(byUser, 99), 3), '–', '–'],
      ['login (set + destroy)', 'index', fmt(percentile(loginIndexed, 50), 3), fmt(percentile(loginIndexed, 99), 3), fmt(mean(loginIndexed), 3), ratio(mean(loginIndexed), mean(loginPlain))],
      ['login (set + destroy)', 'no index', fmt(percentile(loginPlain, 50), 3), fmt(percentile(loginPlain, 99), 3), fmt(mean(loginPlain), 3), 'anchor'],
      ['request save (patch)', 'index', fmt(percentile(patchIndexed, 50), 3), fmt(percentile(patchIndexed, 99), 3), fmt(mean(patchIndexed), 3), ratio(mean(patchIndexed), mean(patchPlain))],
      ['request save (patch)', 'no index', fmt(percentile(patchPlain, 50), 3), fmt(percentile(patchPlain, 99), 3), fmt(mean(patchPlain), 3), 'anchor'],
    ];
    return [
      '## Sessions by user: the index on Redis',
      '',
      markdownTable(['operation', 'case', 'p50 ms', 'p99 ms', 'mean ms', 'mean vs no index'], rows),
      '',
      `byUser: ${fmt(lookups)} lookups of random users (target: p99 under 2 ms). Login and the request save: ${fmt(ops)} calls each, one after the other, on one connection. Hazelcast: not measured here yet.`,
    ].join('\n');
  } finally {
    await plain?.close();
    await strategy?.close();
    await redis.stop();
  }
}
