import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createStrategy, ErrorCodes, isUnavailable, loadConfig, type ScaleoutError } from '@scaleout/core';
import { type RedisStoreConfig, createStore, RedisStore, ReplicaAckError, type Serializer } from '@scaleout/redis';
import { eventually, freePort, type RedisServer, startRedis, tempDir, writeFile } from '@scaleout/harness';

const config = (shape: Partial<RedisStoreConfig>) => ({ type: 'redis', ...shape }) as RedisStoreConfig;

/** Resolves with what `p` rejected with, and how long it took; fails the test if `p` resolves. */
async function rejection(p: Promise<unknown>): Promise<{ err: ScaleoutError; ms: number }> {
  const started = Date.now();
  const err = (await expect(p).to.be.rejected) as ScaleoutError;
  return { err, ms: Date.now() - started };
}

describe('RedisStore on a standalone Redis', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  let raw: Redis;
  before(async () => {
    redis = await startRedis({ replicas: 1, password: 'Secret pass#1' });
    raw = new Redis(redis.url);
  });
  after(async () => {
    raw?.disconnect();
    await redis?.stop();
  });

  describe('values that are not sessions', () => {
    let store: RedisStore;
    before(async () => {
      store = await createStore(config({ url: redis.url, prefix: 'bad:' }));
    });
    after(async () => {
      await store?.close();
    });

    it('reads garbage bytes, wrong shapes and wrong key types as no session, counting each', async () => {
      const seen: string[] = [];
      store.on('invalid', (id: string) => seen.push(id));
      const start = store.invalidValues;
      await raw.set('bad:bytes', Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22]));
      await raw.set('bad:number', '123');
      await raw.set('bad:null', 'null');
      await raw.set('bad:array', '[]');
      await raw.set('bad:string', '"just text"');
      await raw.set('bad:truncated', '{"user":"ada"');
      await raw.hset('bad:hash', 'user', 'ada');
      await raw.rpush('bad:list', 'x');
      const ids = ['bytes', 'number', 'null', 'array', 'string', 'truncated', 'hash', 'list'];
      for (const id of ids) expect(await store.get(id), id).to.equal(undefined);
      expect(store.invalidValues - start).to.equal(ids.length);
      expect(seen).to.deep.equal(ids);
      // Writing a session over a bad value of any type repairs it.
      await store.set('hash', { fixed: true }, 60_000);
      expect(await store.get('hash')).to.deep.equal({ fixed: true });
    });

    it('writes one hash under prefix + id, a field of JSON per key plus metadata, and slides it with PEXPIRE', async () => {
      const before = Date.now();
      await store.set('ttl-check', { a: 1, user: { name: 'ada' }, '#v': 'mine' }, 50_000);
      expect(await raw.type('bad:ttl-check')).to.equal('hash');
      const first = await raw.pttl('bad:ttl-check');
      expect(first).to.be.within(40_000, 50_000);
      await store.touch('ttl-check', 500_000);
      expect(await raw.pttl('bad:ttl-check')).to.be.within(400_000, 500_000);
      const fields = await raw.hgetall('bad:ttl-check');
      expect(fields).to.include({ a: '1', user: '{"name":"ada"}', '##v': '"mine"', '#v': '2', '#maxInactive': '50000' });
      expect(Number(fields['#created'])).to.be.within(before, Date.now());
      expect(Number(fields['#lastAccess'])).to.be.within(before, Date.now());
      expect(await store.get('ttl-check')).to.deep.equal({ a: 1, user: { name: 'ada' }, '#v': 'mine' });
    });

    it('a full save replaces the hash: keys the new session lacks are gone', async () => {
      await store.set('replace', { a: 1, b: 2 }, 60_000);
      await store.set('replace', { c: 3 }, 60_000);
      expect(await store.get('replace')).to.deep.equal({ c: 3 });
    });

    it('clear removes only its own prefix', async () => {
      await raw.set('other:keep', 'x');
      await store.set('mine', { a: 1 }, 60_000);
      await store.clear();
      expect(await raw.get('other:keep')).to.equal('x');
      expect(await raw.exists('bad:mine')).to.equal(0);
    });

    it('treats glob characters in the prefix literally when listing', async () => {
      const starry = await createStore(config({ url: redis.url, prefix: 'a*[b]?:' }));
      try {
        await raw.set('aX[b]?:not-mine', '{}');
        await raw.set('a*b?:not-mine', '{}');
        await starry.set('mine', { ok: 1 }, 60_000);
        const ids: string[] = [];
        for await (const id of starry.ids()) ids.push(id);
        expect(ids).to.deep.equal(['mine']);
        expect(await starry.size()).to.equal(1);
      } finally {
        await starry.close();
      }
    });
  });

  it('patch: concurrent patches from three processes (three clients) all survive', async () => {
    const stores = await Promise.all([1, 2, 3].map(() => createStore(config({ url: redis.url, prefix: 'cas:' }))));
    try {
      await stores[0]!.set('shared', { start: true }, 60_000);
      await Promise.all(Array.from({ length: 45 }, (_, i) => stores[i % 3]!.patch('shared', { set: { [`k${i}`]: i }, unset: [] }, 60_000)));
      const got = (await stores[0]!.get('shared'))!;
      expect(Object.keys(got).sort()).to.deep.equal(['start', ...Array.from({ length: 45 }, (_, i) => `k${i}`)].sort());
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('reads a 0.1 string written with its pluggable serializer, and rewrites it as a hash on the next save', async () => {
    const base64: Serializer = {
      binary: true,
      stringify: (data) => Buffer.from(JSON.stringify(data)).toString('base64'),
      parse: (b) => {
        expect(b).to.be.instanceOf(Buffer);
        return JSON.parse(Buffer.from(b.toString(), 'base64').toString()) as unknown;
      },
    };
    const client = new Redis(redis.url);
    const store = new RedisStore({ client, prefix: 'b64:', serializer: base64 });
    try {
      await raw.set('b64:s', Buffer.from('{"n":1}').toString('base64'), 'PX', 60_000);
      expect(await store.get('s')).to.deep.equal({ n: 1 });
      expect(await store.patch('s', { set: { m: 2 }, unset: [] }, 60_000)).to.equal(true);
      expect(await raw.type('b64:s')).to.equal('hash');
      expect(await store.get('s')).to.deep.equal({ n: 1, m: 2 });
    } finally {
      await store.close();
      client.disconnect();
    }
  });

  it('works over an app’s own ioredis client and leaves it open on close', async () => {
    const client = new Redis(redis.url);
    const store = new RedisStore({ client, prefix: 'own:' });
    await store.set('x', { mine: true }, 60_000);
    expect(await store.get('x')).to.deep.equal({ mine: true });
    await store.close();
    expect(await client.hget('own:x', 'mine')).to.equal('true');
    client.disconnect();
  });

  it('refuses bad options with a ConfigError naming the field, from the same schema as the config', () => {
    const client = new Redis(redis.url, { lazyConnect: true });
    try {
      const table: Array<[Record<string, unknown>, string]> = [
        [{ waitReplicas: -1 }, 'waitReplicas'],
        [{ maxValueBytes: 0 }, 'maxValueBytes'],
        [{ commandTimeout: 'soon' }, 'commandTimeout'],
        [{ commandTimeout: 0 }, 'commandTimeout'],
        [{ client: {} }, 'client'],
        [{ prefix: 's:', lockPrefix: 's:locks:' }, 'lockPrefix'],
        [{ prefix: 's:', userPrefix: 's' }, 'userPrefix'],
        [{ migrateFrom: 'express-session' }, 'migrateFrom'],
        [{ prefixx: 's:' }, 'prefixx'],
      ];
      for (const [bad, field] of table) {
        expect(() => new RedisStore({ client, ...bad } as never), field).to.throw().that.includes({ code: ErrorCodes.CONFIG, field });
      }
      expect(new RedisStore({ client, prefix: 'p:' }), 'defaults from the schema').to.include({ lockPrefix: 'lock:p:', userPrefix: 'user:p:' });
    } finally {
      client.disconnect();
    }
  });

  it('with an empty prefix, keeps sessions working and refuses lock()', async () => {
    const client = new Redis(redis.url, { db: 3 });
    const store = new RedisStore({ client, prefix: '' });
    try {
      await store.set('bare', { ok: 1 }, 60_000);
      expect(await store.get('bare')).to.deep.equal({ ok: 1 });
      await expect(store.lock('bare', { ttlMs: 1000, waitMs: 10 })).to.be.rejected.and.eventually.include({ code: ErrorCodes.INVALID_ARGUMENT, field: 'prefix' });
      await store.clear();
      expect(await store.size()).to.equal(0);
    } finally {
      await store.close();
      client.disconnect();
    }
  });

  it('works as a least-privilege ACL user (the rule docs/redis.md gives)', async () => {
    await redis.command('ACL', 'SETUSER', 'sessions', 'on', '>acl pass', '~sess:*', ...'+hgetall +evalsha +eval +type +get +hget +hset +hdel +del +pexpire +unlink +scan +wait +ping +info +client|setname +cluster|slots'.split(' '));
    const store = await createStore(config({ url: `redis://127.0.0.1:${redis.port}`, username: 'sessions', password: 'acl pass', waitReplicas: 1 }));
    try {
      await store.set('acl', { ok: true }, 60_000);
      await store.touch('acl', 120_000);
      expect(await store.patch('acl', { set: { n: 1 }, unset: ['gone'] }, 60_000)).to.equal(true);
      expect(await store.get('acl')).to.deep.equal({ ok: true, n: 1 });
      expect(await store.size()).to.be.at.least(1);
      await store.destroy('acl');
      await store.clear();
      expect(await store.get('acl')).to.equal(undefined);
    } finally {
      await store.close();
    }
  });

  it('takes the password from the environment, the rest from the config file', async () => {
    const { dir, remove } = tempDir('config');
    try {
      const file = writeFile(dir, 'scaleout.config.json', JSON.stringify({ strategy: 'store', secret: 's', store: { type: 'redis', url: `redis://127.0.0.1:${redis.port}`, prefix: 'env:' } }));
      const strategy = await createStrategy(await loadConfig({ file, env: { SCALEOUT_STORE__PASSWORD: 'Secret pass#1' } }));
      try {
        await strategy.store.set('e', { from: 'env' }, 60_000);
        expect(await raw.hget('env:e', 'from')).to.equal('"env"');
      } finally {
        await strategy.close();
      }
      await expect(createStrategy(await loadConfig({ file, env: {} }))).to.be.rejected.and.eventually.include({ code: ErrorCodes.STORE_UNAVAILABLE });
    } finally {
      remove();
    }
  });

  describe('start-up errors', () => {
    it('rejects a wrong password at once, naming the address', async () => {
      const url = `redis://:wrong@127.0.0.1:${redis.port}`;
      const { err, ms } = await rejection(createStore(config({ url, connectTimeout: 5000 })));
      expect(err.code).to.equal(ErrorCodes.STORE_UNAVAILABLE);
      expect(err.message).to.include(`127.0.0.1:${redis.port}`).and.include('refused the credentials');
      expect(err.message).not.to.include('wrong');
      expect(ms).to.be.lessThan(4000);
    });

    it('rejects a missing password', async () => {
      const { err } = await rejection(createStore(config({ url: `redis://127.0.0.1:${redis.port}` })));
      expect(err.code).to.equal(ErrorCodes.STORE_UNAVAILABLE);
      expect(err.message).to.match(/NOAUTH|credentials/);
    });

    it('rejects an unreachable address within connectTimeout, naming it', async () => {
      const port = await freePort();
      const { err, ms } = await rejection(createStore(config({ url: `redis://127.0.0.1:${port}`, connectTimeout: 800 })));
      expect(err.code).to.equal(ErrorCodes.STORE_UNAVAILABLE);
      expect(err.message).to.include(`cannot reach Redis at 127.0.0.1:${port} within 800 ms`);
      expect(ms).to.be.lessThan(5000);
    });

    it('rejects unreachable Sentinels and Cluster seeds, naming them', async () => {
      const port = await freePort();
      const viaSentinel = await rejection(createStore(config({ sentinels: [`127.0.0.1:${port}`], name: 'm', connectTimeout: 800 })));
      expect(viaSentinel.err.message).to.include(`"m" via Sentinels 127.0.0.1:${port}`);
      const viaCluster = await rejection(createStore(config({ nodes: [`127.0.0.1:${port}`], connectTimeout: 800 })));
      expect(viaCluster.err.message).to.include(`Cluster nodes 127.0.0.1:${port}`);
      expect(isUnavailable(viaCluster.err)).to.equal(true);
    });

    it('refuses a config of the wrong shape with the field named', async () => {
      await expect(createStore({ type: 'redis' } as RedisStoreConfig)).to.be.rejected.and.eventually.include({ code: ErrorCodes.CONFIG });
      await expect(createStore(config({ url: 'http://127.0.0.1:1' }))).to.be.rejected.and.eventually.include({ code: ErrorCodes.CONFIG, field: 'store.url' });
      await expect(createStore({ type: 'memory' } as unknown as RedisStoreConfig)).to.be.rejected.and.eventually.include({ field: 'store.type' });
    });
  });

  describe('waitReplicas', () => {
    it('acknowledges a write once the replica confirmed it', async () => {
      const store = await createStore(config({ url: redis.url, prefix: 'wait:', waitReplicas: 1, waitTimeout: 2000 }));
      try {
        await store.set('w', { durable: true }, 60_000);
        expect(await redis.command('HGET', 'wait:w', 'durable')).to.equal('true');
        expect(await store.patch('w', { set: { more: 1 }, unset: [] }, 60_000)).to.equal(true);
        expect(await redis.command('HGET', 'wait:w', 'more')).to.equal('1');
        await store.destroy('w');
        expect(await redis.command('EXISTS', 'wait:w')).to.equal(0);
      } finally {
        await store.close();
      }
    });

    it('fails a write that fewer replicas confirm, with a 503-class coded error', async () => {
      // A WAIT longer than the command timeout still gets its full wait, then fails for want of replicas.
      const store = await createStore(config({ url: redis.url, prefix: 'wait:', waitReplicas: 2, waitTimeout: 800, commandTimeout: 300 }));
      try {
        const { err } = await rejection(store.set('w2', { durable: 'no' }, 60_000));
        expect(err).to.be.instanceOf(ReplicaAckError);
        expect(err.code).to.equal(ErrorCodes.STORE_UNAVAILABLE);
        expect(isUnavailable(err)).to.equal(true);
        expect((err as ReplicaAckError).acknowledged).to.equal(1);
        expect((err as ReplicaAckError).required).to.equal(2);
        expect(err.message).to.include('within 800 ms');
      } finally {
        await store.close();
      }
    });
  });
});

describe('RedisStore when Redis goes down and comes back', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  let store: RedisStore;
  const events: string[] = [];
  before(async () => {
    redis = await startRedis();
    store = await createStore(config({ url: redis.url, commandTimeout: 500 }));
    store.on('down', () => events.push('down'));
    store.on('up', () => events.push('up'));
  });
  after(async () => {
    await store?.close();
    await redis?.stop();
  });

  it('fails fast with STORE_UNAVAILABLE while down, then recovers on its own on the same port', async () => {
    await store.set('survivor', { v: 1 }, 60_000);
    await redis.kill('SIGKILL');
    await eventually(() => store.available === false, 2000, 'store reported down');
    for (let i = 0; i < 5; i++) {
      const { err, ms } = await rejection(store.get('survivor'));
      expect(isUnavailable(err), err.message).to.equal(true);
      expect(ms).to.be.lessThan(1000);
    }
    await redis.restart();
    await eventually(() => store.available, 10_000, 'store reported up');
    await store.set('after', { v: 2 }, 60_000);
    expect(await store.get('after')).to.deep.equal({ v: 2 });
    expect(events).to.deep.equal(['down', 'up']);
  });

  it('times out a hung Redis (SIGSTOP) with STORE_TIMEOUT instead of hanging', async () => {
    redis.master.pause();
    try {
      const { err, ms } = await rejection(store.get('anything'));
      expect(err.code).to.equal(ErrorCodes.STORE_TIMEOUT);
      expect(ms).to.be.lessThan(2000);
    } finally {
      redis.master.resume();
    }
    await eventually(async () => (await store.get('after')) !== undefined, 10_000, 'reads work after SIGCONT');
  });
});
