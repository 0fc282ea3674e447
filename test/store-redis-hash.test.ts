import { expect } from 'chai';
import { Redis } from 'ioredis';
import request from 'supertest';
import { createStrategy } from '@scaleout/core';
import { type RedisStoreConfig, createStore, type RedisStore } from '@scaleout/redis';
import { buildApp, FRAMEWORKS } from './support/apps.js';
import { startHttp } from './support/http.js';
import { cookieOf } from './support/session-behaviour.js';
import { redisCommand, type RedisServer, startRedis } from '@scaleout/harness';

const config = (shape: Partial<RedisStoreConfig>) => ({ type: 'redis', ...shape }) as RedisStoreConfig;

/**
 * The commands clients sent Redis while `work` ran, as MONITOR saw them: commands that scripts
 * ran inside Redis are left out (they cost no round trip), and so are the markers around `work`.
 */
async function commandsDuring(url: string, work: () => Promise<unknown>): Promise<string[]> {
  const watcher = new Redis(url);
  const marker = new Redis(url);
  const monitor = await watcher.monitor();
  const seen: string[] = [];
  let inside = false;
  let ended!: () => void;
  const end = new Promise<void>((r) => (ended = r));
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const name = String(args[0]).toLowerCase();
    if (name === 'echo' && args[1] === 'scaleout-start') inside = true;
    else if (name === 'echo' && args[1] === 'scaleout-end') ended();
    else if (inside && source !== 'lua') seen.push(name);
  });
  try {
    await marker.echo('scaleout-start');
    await work();
    await marker.echo('scaleout-end');
    await end;
    return seen;
  } finally {
    monitor.disconnect();
    watcher.disconnect();
    marker.disconnect();
  }
}

describe('RedisStore hash layout: one round trip per save', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  let raw: Redis;
  let store: RedisStore;
  let durable: RedisStore;
  before(async () => {
    redis = await startRedis({ replicas: 1 });
    raw = new Redis(redis.url);
    store = await createStore(config({ url: redis.url, prefix: 'rt:' }));
    durable = await createStore(config({ url: redis.url, prefix: 'rtw:', waitReplicas: 1, waitTimeout: 2000 }));
  });
  after(async () => {
    raw?.disconnect();
    await store?.close();
    await durable?.close();
    await redis?.stop();
  });

  it('a patch is exactly one command (EVALSHA), with no read first; get is one HGETALL, touch one PEXPIRE', async () => {
    await store.set('s', { a: 1, b: 2 }, 60_000);
    await store.patch('s', { set: { warm: 1 }, unset: [] }, 60_000); // loads the script once
    expect(await commandsDuring(redis.url, () => store.patch('s', { set: { c: 3 }, unset: ['a'] }, 60_000))).to.deep.equal(['evalsha']);
    expect(await commandsDuring(redis.url, () => store.get('s'))).to.deep.equal(['hgetall']);
    expect(await commandsDuring(redis.url, () => store.touch('s', 60_000))).to.deep.equal(['pexpire']);
    expect(await commandsDuring(redis.url, () => store.set('s2', { x: 1 }, 60_000))).to.deep.equal(['evalsha']);
    expect(await store.get('s')).to.deep.equal({ b: 2, warm: 1, c: 3 });
  });

  it('with waitReplicas, a patch is the script and WAIT, pipelined, and the replica has it', async () => {
    await durable.set('w', { a: 1 }, 60_000);
    await durable.patch('w', { set: { warm: 1 }, unset: [] }, 60_000);
    expect(await commandsDuring(redis.url, () => durable.patch('w', { set: { b: 2 }, unset: [] }, 60_000))).to.deep.equal(['evalsha', 'wait']);
    expect(await redisCommand(redis.replicas[0]!.port, undefined, 'HGET', 'rtw:w', 'b')).to.equal('2');
  });

  for (const framework of FRAMEWORKS) {
    it(`through ${framework}, a request that changes its session costs one HGETALL and one EVALSHA`, async () => {
      const strategy = await createStrategy({ strategy: 'store', secret: 'k', store: { type: 'redis', url: redis.url, prefix: `rt-${framework}:` } });
      const server = await startHttp(buildApp(framework, strategy));
      try {
        const cookie = cookieOf(await request(server.server).get('/count').expect(200), strategy.session.cookieName)!;
        await request(server.server).get('/count').set('Cookie', cookie).expect(200); // loads the script once
        const commands = await commandsDuring(redis.url, () => request(server.server).get('/count').set('Cookie', cookie).expect(200));
        expect(commands).to.deep.equal(['hgetall', 'evalsha']);
      } finally {
        await server.close();
        await strategy.close();
      }
    });
  }

  describe('with sessions indexed by user', () => {
    let indexed: RedisStore;
    before(async () => {
      indexed = await createStore(config({ url: redis.url, prefix: 'ix:' }));
      indexed.indexUsers('userId');
      // Loads every script once (EVAL the first time, EVALSHA after).
      await indexed.set('warm', { userId: 'warm' }, 60_000);
      await indexed.patch('warm', { set: { userId: 'warm2' }, unset: [] }, 60_000);
      await indexed.touch('warm', 60_000);
    });
    after(() => indexed?.close());
    const members = (user: string) => raw.smembers(`${indexed.userPrefix}u:${user}`);

    it('a patch that keeps the user is one EVALSHA; the user\'s set is kept only when the user changes or the lifetime outgrows the mark', async () => {
      expect(await commandsDuring(redis.url, () => indexed.set('a', { userId: 'ada', n: 0 }, 60_000))).to.deep.equal(['evalsha', 'evalsha', 'evalsha']);
      expect(await members('ada')).to.deep.equal(['a']);
      const setTtl = await raw.pttl(`${indexed.userPrefix}u:ada`);
      for (let i = 1; i <= 3; i++) expect(await commandsDuring(redis.url, () => indexed.patch('a', { set: { n: i }, unset: [] }, 60_000))).to.deep.equal(['evalsha']);
      expect(await raw.pttl(`${indexed.userPrefix}u:ada`), 'the set outlives the session by the margin and the renewal').to.be.within(60_000 + 9 * 60_000, setTtl);
      // A lifetime past what the set was kept for: the set is kept again, once.
      expect(await commandsDuring(redis.url, () => indexed.patch('a', { set: { n: 4 }, unset: [] }, 20 * 60_000))).to.deep.equal(['evalsha', 'evalsha', 'evalsha']);
      expect(await raw.pttl(`${indexed.userPrefix}u:ada`)).to.be.above(20 * 60_000 + 9 * 60_000);
      expect(await commandsDuring(redis.url, () => indexed.patch('a', { set: { n: 5 }, unset: [] }, 20 * 60_000))).to.deep.equal(['evalsha']);
      // A new user: the new set is kept, the old one loses the id.
      expect(await commandsDuring(redis.url, () => indexed.patch('a', { set: { userId: 'bob' }, unset: [] }, 60_000))).to.deep.equal(['evalsha', 'evalsha', 'evalsha', 'srem']);
      expect(await members('bob')).to.deep.equal(['a']);
      expect(await members('ada')).to.deep.equal([]);
      expect(await commandsDuring(redis.url, () => indexed.patch('a', { set: { n: 6 }, unset: [] }, 60_000))).to.deep.equal(['evalsha']);
      expect(await commandsDuring(redis.url, () => indexed.touch('a', 60_000))).to.deep.equal(['evalsha']);
      // The mark is metadata: never part of the session.
      expect(await indexed.get('a')).to.deep.equal({ userId: 'bob', n: 6 });
    });

    it('a set that lost the id (a crash before the mark, a write lost in a failover) is kept again by the next save once no mark vouches for it', async () => {
      await indexed.set('b', { userId: 'cyd' }, 60_000);
      // No mark: as if the process died between the set's SADD and the mark.
      await raw.srem(`${indexed.userPrefix}u:cyd`, 'b');
      await raw.hdel('ix:b', '#userSet');
      expect(await indexed.patch('b', { set: { n: 1 }, unset: [] }, 60_000)).to.equal(true);
      expect(await members('cyd')).to.deep.equal(['b']);
      // A mark naming another user (written before a change by a node that keeps no marks) vouches for nothing.
      await raw.srem(`${indexed.userPrefix}u:cyd`, 'b');
      await raw.hset('ix:b', '#userSet', `${Date.now() + 3_600_000} "dan"`);
      expect(await indexed.patch('b', { set: { n: 2 }, unset: [] }, 60_000)).to.equal(true);
      expect(await members('cyd')).to.deep.equal(['b']);
      // A mark is written only while the session still names the user it was kept for.
      await raw.srem(`${indexed.userPrefix}u:cyd`, 'b');
      await raw.hdel('ix:b', '#userSet');
      await indexed.touch('b', 60_000);
      expect(await members('cyd')).to.deep.equal(['b']);
      expect(await raw.hget('ix:b', '#userSet')).to.match(/^\d+ "cyd"$/);
    });

    it('a full save of the same user keeps the mark, and costs one EVALSHA', async () => {
      await indexed.set('c', { userId: 'eve' }, 60_000);
      expect(await commandsDuring(redis.url, () => indexed.set('c', { userId: 'eve', again: true }, 60_000))).to.deep.equal(['evalsha']);
      expect(await members('eve')).to.deep.equal(['c']);
    });

    for (const framework of FRAMEWORKS) {
      it(`through ${framework}, a request that changes a logged-in session costs one HGETALL and one EVALSHA`, async () => {
        const strategy = await createStrategy({ strategy: 'store', secret: 'k', session: { userKey: 'user' }, store: { type: 'redis', url: redis.url, prefix: `rtu-${framework}:` } });
        const server = await startHttp(buildApp(framework, strategy));
        try {
          const cookie = cookieOf(await request(server.server).post('/login').expect(200), strategy.session.cookieName)!;
          await request(server.server).get('/count').set('Cookie', cookie).expect(200);
          const commands = await commandsDuring(redis.url, () => request(server.server).get('/count').set('Cookie', cookie).expect(200));
          expect(commands).to.deep.equal(['hgetall', 'evalsha']);
          expect((await strategy.sessions.byUser('alice')).length).to.equal(1);
        } finally {
          await server.close();
          await strategy.close();
        }
      });
    }
  });

  it('a patch of a destroyed or expired session writes nothing and resolves false', async () => {
    await store.set('gone', { a: 1 }, 60_000);
    await store.destroy('gone');
    expect(await store.patch('gone', { set: { late: true }, unset: [] }, 60_000)).to.equal(false);
    expect(await raw.exists('rt:gone')).to.equal(0);
    await store.set('short', { a: 1 }, 30);
    await new Promise((r) => setTimeout(r, 60));
    expect(await store.patch('short', { set: { late: true }, unset: [] }, 60_000)).to.equal(false);
    expect(await raw.exists('rt:short')).to.equal(0);
  });

  it('a patch racing a destroy never brings the session back', async () => {
    for (let round = 0; round < 20; round++) {
      const id = `race${round}`;
      await store.set(id, { user: 'ada' }, 60_000);
      // Sent together, the destroy lands among the patches: those after it must write nothing.
      const ops = Array.from({ length: 10 }, (_, i) => (i === round % 10 ? store.destroy(id) : store.patch(id, { set: { [`k${i}`]: i }, unset: [] }, 60_000)));
      await Promise.all(ops);
      expect(await raw.exists(`rt:${id}`), `round ${round}`).to.equal(0);
    }
  });

  it('concurrent patches from three clients changing different keys all survive', async () => {
    const others = await Promise.all([1, 2].map(() => createStore(config({ url: redis.url, prefix: 'rt:' }))));
    try {
      const stores = [store, ...others];
      await store.set('shared', { start: true }, 60_000);
      await Promise.all(Array.from({ length: 60 }, (_, i) => stores[i % 3]!.patch('shared', { set: { [`k${i}`]: i }, unset: [] }, 60_000)));
      const got = (await store.get('shared'))!;
      expect(Object.keys(got).sort()).to.deep.equal(['start', ...Array.from({ length: 60 }, (_, i) => `k${i}`)].sort());
    } finally {
      await Promise.all(others.map((s) => s.close()));
    }
  });

  it('keeps keys that look like metadata apart from it, and keeps values of every JSON shape', async () => {
    const data = { '#v': 'user value', '##x': [1, { y: null }], '': 'empty', big: 2 ** 53 - 1, float: 0.1 + 0.2, text: 'é ✓ 🙂', empty: {}, list: [] };
    await store.set('shapes', data, 60_000);
    expect(await store.get('shapes')).to.deep.equal(data);
    await store.patch('shapes', { set: { '#created': 'mine' }, unset: ['#v'] }, 60_000);
    const { '#v': _gone, ...rest } = data;
    expect(await store.get('shapes')).to.deep.equal({ ...rest, '#created': 'mine' });
    expect(await raw.hget('rt:shapes', '#v')).to.equal('2');
  });
});
