import { once } from 'node:events';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { type RedisStoreConfig, createStore, RedisTransport, type RedisStore } from '@scaleout/redis';
import { type RedisServer, startRedis } from '@scaleout/harness';

// docs/security.md tells operators to run scaleout under a Redis ACL user limited to its key
// prefix, its lock prefix and its channel. This runs everything scaleout does (store reads,
// writes, patches, locks, listing, clearing; pub/sub replication) as exactly that user, and
// checks that the user can do nothing else.
const PASSWORD = 'acl-test-password-Zx81';
/** The rule of docs/security.md, word for word. */
const ACL_RULE =
  'on >PASSWORD resetkeys ~sess:* ~lock:sess:* resetchannels &scaleout -@all +@connection +get +set +hgetall +hget +hset +hdel +type +pexpire +unlink +del +scan +wait +evalsha +eval +publish +subscribe +info +role';

describe('security: scaleout runs under the Redis ACL user of docs/security.md', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  let store: RedisStore;
  let asUser: Redis;
  const transports: RedisTransport[] = [];

  before(async function () {
    redis = await startRedis({ password: 'admin-password-Q7' });
    await redis.command('ACL', 'SETUSER', 'scaleout', ...ACL_RULE.replace('PASSWORD', PASSWORD).split(' '));
    const url = `redis://127.0.0.1:${redis.port}`;
    store = await createStore({ type: 'redis', url, username: 'scaleout', password: PASSWORD } as RedisStoreConfig);
    asUser = new Redis(url, { username: 'scaleout', password: PASSWORD, maxRetriesPerRequest: 0 });
  });
  after(async function () {
    asUser?.disconnect();
    await Promise.all(transports.map((t) => t.close()));
    await store?.close();
    await redis?.stop();
  });

  it('can do everything the session store does', async function () {
    await store.set('a', { user: 'alice', n: 1 }, 60_000);
    expect(await store.get('a')).to.deep.equal({ user: 'alice', n: 1 });
    await store.touch('a', 120_000);
    expect(await store.patch!('a', { set: { n: 2 }, unset: ['user'] }, 60_000)).to.equal(true);
    expect(await store.get('a')).to.deep.equal({ n: 2 });
    const release = await store.lock!('a', { ttlMs: 1000, waitMs: 500 });
    await release();
    await store.set('b', { x: 1 }, 60_000);
    const ids: string[] = [];
    for await (const id of store.ids()) ids.push(id);
    expect(ids.sort()).to.deep.equal(['a', 'b']);
    expect(await store.size()).to.equal(2);
    await store.destroy('a');
    await store.clear();
    expect(await store.size()).to.equal(0);
  });

  it('can replicate over its channel', async function () {
    const url = `redis://127.0.0.1:${redis.port}`;
    const [a, b] = [0, 1].map(() => new RedisTransport({ url, channel: 'scaleout', username: 'scaleout', password: PASSWORD }));
    transports.push(a!, b!);
    await Promise.all([a!.start(), b!.start()]);
    const got = once(b!, 'message');
    await a!.publish(Buffer.from('frame'));
    const [message] = (await got) as [Buffer];
    expect(Buffer.from(message).toString()).to.equal('frame');
  });

  it('can read and write no other key, use no other channel, and run no admin command', async function () {
    for (const attempt of [
      () => asUser.get('other:key'),
      () => asUser.set('other:key', 'x'),
      () => asUser.publish('another-channel', 'x'),
      () => asUser.call('FLUSHALL'),
      () => asUser.call('CONFIG', 'GET', 'requirepass'),
      () => asUser.call('KEYS', '*'),
      () => asUser.call('ACL', 'LIST'),
      () => asUser.call('DEBUG', 'SLEEP', '0'),
    ]) {
      await expect(attempt()).to.be.rejectedWith(/NOPERM|not allowed/);
    }
  });
});
