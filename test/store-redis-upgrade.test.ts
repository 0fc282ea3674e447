import { expect } from 'chai';
import { Redis } from 'ioredis';
import { type RedisStoreConfig, createStore, type RedisStore } from '@scaleout/redis';
import { type RedisServer, startRedis } from '@scaleout/harness';

const config = (shape: Partial<RedisStoreConfig>) => ({ type: 'redis', ...shape }) as RedisStoreConfig;

// scaleout 0.1 wrote each session as one JSON string under prefix + id (SET … PX). A node of
// this version reads those, and its next save of each rewrites it as a hash, atomically.
describe('RedisStore reads sessions of the 0.1 string layout and rewrites them as hashes', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  let raw: Redis;
  let stores: RedisStore[];
  /** What a 0.1 node wrote. */
  const writeOld = (id: string, data: unknown, px = 60_000) => raw.set(`up:${id}`, JSON.stringify(data), 'PX', px);

  before(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
    stores = await Promise.all([1, 2, 3].map(() => createStore(config({ url: redis.url, prefix: 'up:' }))));
  });
  after(async () => {
    raw?.disconnect();
    await Promise.all((stores ?? []).map((s) => s.close()));
    await redis?.stop();
  });

  it('reads a string session as it is, leaving the string and its expiry untouched', async () => {
    await writeOld('read', { user: 'ada', cart: [1, 2] }, 40_000);
    expect(await stores[0]!.get('read')).to.deep.equal({ user: 'ada', cart: [1, 2] });
    expect(await raw.type('up:read')).to.equal('string');
    expect(await raw.pttl('up:read')).to.be.within(30_000, 40_000);
  });

  it('a patch rewrites it as a hash holding the old keys and the change', async () => {
    await writeOld('p', { user: 'ada', gone: 1, cart: [1] });
    expect(await stores[0]!.patch('p', { set: { cart: [1, 2] }, unset: ['gone'] }, 50_000)).to.equal(true);
    expect(await raw.type('up:p')).to.equal('hash');
    expect(await raw.hget('up:p', '#v')).to.equal('2');
    expect(await raw.pttl('up:p')).to.be.within(40_000, 50_000);
    expect(await stores[1]!.get('p')).to.deep.equal({ user: 'ada', cart: [1, 2] });
  });

  it('a full save replaces a string with a hash', async () => {
    await writeOld('s', { user: 'ada' });
    await stores[0]!.set('s', { user: 'bob' }, 60_000);
    expect(await raw.type('up:s')).to.equal('hash');
    expect(await stores[0]!.get('s')).to.deep.equal({ user: 'bob' });
  });

  it('concurrent patches from three nodes on one string session all survive the conversion', async () => {
    for (let round = 0; round < 5; round++) {
      const id = `conc${round}`;
      await writeOld(id, { start: true });
      await Promise.all(Array.from({ length: 30 }, (_, i) => stores[i % 3]!.patch(id, { set: { [`k${i}`]: i }, unset: [] }, 60_000)));
      const got = (await stores[0]!.get(id))!;
      expect(Object.keys(got).sort(), `round ${round}`).to.deep.equal(['start', ...Array.from({ length: 30 }, (_, i) => `k${i}`)].sort());
      expect(await raw.type(`up:${id}`)).to.equal('hash');
    }
  });

  it('a conversion racing a destroy does not bring the session back', async () => {
    for (let round = 0; round < 10; round++) {
      const id = `race${round}`;
      await writeOld(id, { user: 'ada' });
      await Promise.all(Array.from({ length: 8 }, (_, i) => (i === round % 8 ? stores[1]!.destroy(id) : stores[i % 3]!.patch(id, { set: { [`k${i}`]: i }, unset: [] }, 60_000))));
      expect(await raw.exists(`up:${id}`), `round ${round}`).to.equal(0);
    }
  });

  it('a string that is not a session is counted and never converted', async () => {
    const invalid: string[] = [];
    stores[0]!.on('invalid', (id: string) => invalid.push(id));
    await raw.set('up:junk', '{"user":', 'PX', 60_000);
    expect(await stores[0]!.patch('junk', { set: { a: 1 }, unset: [] }, 60_000)).to.equal(false);
    expect(await raw.get('up:junk')).to.equal('{"user":');
    expect(invalid).to.deep.equal(['junk']);
  });
});
