import { expect } from 'chai';
import { Redis } from 'ioredis';
import request from 'supertest';
import { createStrategy, type Strategy } from '@scaleout/core';
import { type RedisStoreConfig, createStore, type RedisStore } from '@scaleout/redis';
import { buildApp } from './support/apps.js';
import { startHttp, type RunningServer } from './support/http.js';
import { cookieOf } from './support/session-behaviour.js';
import { type RedisServer, startRedis } from '@scaleout/harness';

const TEN_MB = 10 * 1024 * 1024;

// What the hash layout can meet under its prefix that is not a session it wrote. Each reads as
// no session and is counted; none crashes the store or holds up the sessions around it.
describe('RedisStore: stored values that are not sessions', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let raw: Redis;
  let store: RedisStore;
  const invalid: string[] = [];

  before(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
    store = await createStore({ type: 'redis', url: redis.url, prefix: 'odd:' } as RedisStoreConfig);
    store.on('invalid', (id: string) => invalid.push(id));
  });
  after(async () => {
    raw?.disconnect();
    await store?.close();
    await redis?.stop();
  });
  beforeEach(() => {
    invalid.length = 0;
  });

  const meta = ['#v', '2', '#created', '1', '#lastAccess', '1', '#maxInactive', '60000'];

  it('reads each as no session, counts it once, and never patches into it', async () => {
    const start = store.invalidValues;
    await raw.hset('odd:not-json', ...meta, 'user', '"ada"', 'cart', '{"items":[1,');
    await raw.hset('odd:no-meta', 'user', '"ada"');
    await raw.hset('odd:other-version', ...meta.slice(2), '#v', '3', 'user', '"ada"');
    await raw.rpush('odd:list', 'x');
    await raw.sadd('odd:set', 'x');
    await raw.zadd('odd:zset', 1, 'x');
    await raw.xadd('odd:stream', '*', 'f', 'v');
    const ids = ['not-json', 'no-meta', 'other-version', 'list', 'set', 'zset', 'stream'];
    for (const id of ids) expect(await store.get(id), id).to.equal(undefined);
    expect(store.invalidValues - start).to.equal(ids.length);
    expect(invalid).to.deep.equal(ids);
    // A patch leaves a hash of another layout and a key of another type as they were.
    for (const id of ['no-meta', 'other-version', 'list']) {
      expect(await store.patch(id, { set: { user: 'eve' }, unset: [] }, 60_000), id).to.equal(false);
    }
    expect(await raw.hget('odd:no-meta', 'user')).to.equal('"ada"');
    expect(await raw.hget('odd:other-version', 'user')).to.equal('"ada"');
    expect(await raw.lrange('odd:list', 0, -1)).to.deep.equal(['x']);
    // A full save replaces any of them with a session.
    await store.set('list', { fixed: true }, 60_000);
    expect(await store.get('list')).to.deep.equal({ fixed: true });
  });

  it('reads a 10 MB session (hash or string) as no session, while other sessions are served', async () => {
    await raw.hset('odd:huge-hash', ...meta, 'blob', JSON.stringify('x'.repeat(TEN_MB)));
    await raw.set('odd:huge-string', JSON.stringify({ blob: 'x'.repeat(TEN_MB) }));
    await store.set('fine', { user: 'ada' }, 60_000);
    const start = store.invalidValues;
    const [huge, fine] = await Promise.all([
      Promise.all([1, 2, 3].flatMap(() => [store.get('huge-hash'), store.get('huge-string')])),
      Promise.all(Array.from({ length: 50 }, () => store.get('fine'))),
    ]);
    expect(huge).to.deep.equal(Array(6).fill(undefined));
    expect(fine).to.deep.equal(Array(50).fill({ user: 'ada' }));
    expect(store.invalidValues - start).to.equal(6);
    await expect(store.set('huge-new', { blob: 'x'.repeat(TEN_MB) }, 60_000)).to.be.rejected.and.eventually.include({ field: 'data' });
    await expect(store.patch('fine', { set: { blob: 'x'.repeat(TEN_MB) }, unset: [] }, 60_000)).to.be.rejected.and.eventually.include({ field: 'data' });
    expect(await store.get('fine')).to.deep.equal({ user: 'ada' });
  });

  describe('through the HTTP layers', () => {
    let strategy: Strategy;
    const servers: RunningServer[] = [];
    before(async () => {
      strategy = await createStrategy({ strategy: 'store', secret: 'k', store: { type: 'redis', url: redis.url, prefix: 'http:' } });
    });
    after(async () => {
      await Promise.all(servers.map((s) => s.close()));
      await strategy?.close();
    });

    for (const framework of ['express', 'koa'] as const) {
      it(`${framework}: a session whose hash was corrupted gives the client a fresh session, not an error`, async () => {
        const server = await startHttp(buildApp(framework, strategy));
        servers.push(server);
        const cookie = cookieOf(await request(server.server).get('/count').expect(200), strategy.session.cookieName)!;
        expect((await request(server.server).get('/count').set('Cookie', cookie).expect(200)).body.count).to.equal(2);
        const key = `http:${decodeURIComponent(cookie.split('=')[1]!).slice(2).split('.')[0]!}`;
        expect(await raw.hget(key, 'count')).to.equal('2');
        await raw.hset(key, 'count', 'not json');
        const counted = (strategy.store as RedisStore).invalidValues;
        const res = await request(server.server).get('/count').set('Cookie', cookie).expect(200);
        expect(res.body.count).to.equal(1);
        expect((strategy.store as RedisStore).invalidValues).to.equal(counted + 1);
      });
    }
  });
});
