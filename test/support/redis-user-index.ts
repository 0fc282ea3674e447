import { expect } from 'chai';
import type { SessionEvent, Strategy } from '@scaleout/core';
import type { RedisStore } from '@scaleout/redis';
import { Cluster, type Redis } from 'ioredis';
import { eventually } from '@scaleout/harness';

// The Redis side of the sessions-by-user suites: counting the index's keys, and what only Redis
// can get wrong (stale ids in a set, garbage under an index key, the sets of expired sessions).

function redisStore(strategy: Strategy): RedisStore {
  return strategy.store as unknown as RedisStore;
}

/** Every key of the user index (sets and shadows), on every master. */
export async function indexKeys(strategy: Strategy): Promise<string[]> {
  const store = redisStore(strategy);
  const nodes: Redis[] = store.client instanceof Cluster ? store.client.nodes('master') : [store.client as Redis];
  const pattern = `${store.userPrefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  return (await Promise.all(nodes.map((n) => n.keys(pattern)))).flat();
}

/** How many keys the user index holds: `indexSize` of the shared suite. */
export const indexSize = async (strategy: Strategy) => (await indexKeys(strategy)).length;

/** What only Redis can get wrong: stale ids in a set, garbage under an index key, sets of expired sessions. */
export function describeRedisIndex(label: string, make: (ttl?: string) => Promise<[Strategy, Strategy]>): void {
  describe(`sessions by user: ${label}, the Redis index`, function () {
    this.timeout(60_000);
    let nodes: [Strategy, Strategy];
    before(async () => {
      nodes = await make();
    });
    after(async () => {
      await Promise.all((nodes ?? []).map((n) => n.close()));
    });
    const future = (ms: number) => ({ originalMaxAge: ms, expires: new Date(Date.now() + ms).toISOString() });

    it('drops ids of sessions that no longer exist: byUser lists the live ones and the set is cleaned', async () => {
      const store = redisStore(nodes[0]);
      const user = `stale-${Date.now()}`;
      await store.set(`${user}-live`, { userId: user, cookie: future(60_000) }, 60_000);
      await store.set(`${user}-gone`, { userId: user, cookie: future(60_000) }, 60_000);
      const setKey = `${store.userPrefix}u:${user}`;
      // The hash deleted behind the store's back (as a crash between delete and SREM would leave it), and ids never saved.
      await store.client.del(`${store.prefix}${user}-gone`);
      await store.client.sadd(setKey, `${user}-never-1`, `${user}-never-2`);
      expect(await store.client.scard(setKey)).to.equal(4);
      expect((await nodes[1].sessions.byUser(user)).map((s) => s.id)).to.deep.equal([`${user}-live`]);
      expect((await store.client.smembers(setKey)).sort()).to.deep.equal([`${user}-live`]);
    });

    it('skips and counts a user index holding garbage: a key of another type, members that cannot be ids', async () => {
      const store = redisStore(nodes[0]);
      const wrongType = `garbage-type-${Date.now()}`;
      await store.client.set(`${store.userPrefix}u:${wrongType}`, 'not a set');
      const before = store.invalidValues;
      expect(await nodes[0].sessions.byUser(wrongType)).to.deep.equal([]);
      expect(store.invalidValues).to.equal(before + 1);

      const badMembers = `garbage-members-${Date.now()}`;
      const setKey = `${store.userPrefix}u:${badMembers}`;
      await store.set(`${badMembers}-live`, { userId: badMembers, cookie: future(60_000) }, 60_000);
      await store.client.sadd(setKey, '', 'x'.repeat(300));
      const n = store.invalidValues;
      expect((await nodes[0].sessions.byUser(badMembers)).map((s) => s.id)).to.deep.equal([`${badMembers}-live`]);
      expect(store.invalidValues, 'one for each bad member').to.equal(n + 2);
      expect(await store.client.smembers(setKey)).to.deep.equal([`${badMembers}-live`]);
      await store.client.del(`${store.userPrefix}u:${wrongType}`);
    });

    it('moves a session from the old user\'s set to the new one\'s when its user changes by a patch, and keeps each set alive as long as its sessions', async () => {
      const store = redisStore(nodes[0]);
      const id = `move-${Date.now()}`;
      await store.set(id, { userId: 'move-a', cookie: future(60_000) }, 60_000);
      expect(await store.sessionsOf('move-a')).to.deep.equal([id]);
      expect(await store.patch(id, { set: { userId: 'move-b' }, unset: [] }, 60_000)).to.equal(true);
      expect(await store.sessionsOf('move-b')).to.deep.equal([id]);
      expect(await store.client.exists(`${store.userPrefix}u:move-a`), 'the old set, emptied and gone').to.equal(0);
      const pttl = await store.client.pttl(`${store.userPrefix}u:move-b`);
      expect(pttl).to.be.above(60_000);
      await store.touch(id, 600_000);
      expect(await store.client.pttl(`${store.userPrefix}u:move-b`), 'a touch keeps the set alive').to.be.above(600_000);
      expect(await store.patch(id, { set: {}, unset: ['userId'] }, 60_000)).to.equal(true);
      expect(await indexKeys(nodes[0]).then((keys) => keys.filter((k) => k.includes(id) || k.endsWith('move-b')))).to.deep.equal([]);
      await store.destroy(id);
    });

    it('leaves no index key once many users\' sessions have all expired', async () => {
      const pair = await make('1s');
      try {
        const store = redisStore(pair[0]);
        const users = 200;
        const expired = new Set<string>();
        store.on('expired', (id: string, userId?: string) => userId?.startsWith('exp-hyg-') && expired.add(id));
        const tag = Date.now();
        await Promise.all(Array.from({ length: users * 3 }, (_, i) => store.set(`exp-hyg-${tag}-${i}`, { userId: `exp-hyg-${i % users}`, cookie: future(1000) }, 1000)));
        const mine = async () => (await indexKeys(pair[0])).filter((k) => k.includes('exp-hyg-'));
        expect((await mine()).length, 'sets and shadows').to.equal(users + users * 3);
        await eventually(() => expired.size === users * 3, 15_000, 'every session expired, with its user');
        // The shadows linger a few seconds, so that every node subscribed can read whose session it was.
        await eventually(async () => (await mine()).length === 0, 15_000, 'no index key left');
      } finally {
        await Promise.all(pair.map((n) => n.close()));
      }
    });
  });
}

/**
 * Saves session `id` of user `u-<id>` with a 1 s lifetime through `strategy` (retrying while the
 * server or the Cluster comes back) and resolves its `expired` event, as `strategy` emitted it.
 */
export async function expiredEventOf(strategy: Strategy, id: string, timeoutMs = 15_000): Promise<SessionEvent> {
  let event: SessionEvent | undefined;
  const listen = (e: SessionEvent) => {
    if (e.type === 'expired' && e.id === id) event = e;
  };
  strategy.on('session', listen);
  try {
    await eventually(async () => {
      await strategy.store.set(id, { userId: `u-${id}`, cookie: { originalMaxAge: 1000, expires: new Date(Date.now() + 1000).toISOString() } }, 1000);
      return true;
    }, timeoutMs, 'the session saved');
    return (await eventually(() => event, timeoutMs, `the expired event of ${id}`))!;
  } finally {
    strategy.off('session', listen);
  }
}
