import FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { ConfigError, DEFAULT_MEMORY_STORE_OPTIONS, MemoryStore, InvalidArgumentError, parseConfig } from '@scaleout/core';

describe('MemoryStore', function () {
  let store: MemoryStore;
  beforeEach(function () {
    store = new MemoryStore({ sweepInterval: 20 });
  });
  afterEach(async function () {
    await store.close();
  });

  it('returns copies: mutating what get returned or what was set never changes the store', async function () {
    const data = { a: { b: 1 } };
    await store.set('x', data, 10_000);
    data.a.b = 2;
    const read = await store.get('x');
    expect(read).to.deep.equal({ a: { b: 1 } });
    (read!.a as { b: number }).b = 3;
    expect(await store.get('x')).to.deep.equal({ a: { b: 1 } });
  });

  it('counts maxValueBytes in UTF-8 bytes', async function () {
    const small = new MemoryStore({ maxValueBytes: 64 });
    try {
      await small.set('ascii', { s: 'a'.repeat(40) }, 10_000);
      await expect(small.set('euro', { s: '€'.repeat(20) }, 10_000)).to.be.rejectedWith(InvalidArgumentError, /68 bytes/);
      expect(small.sync!.patch('ascii', { set: { s: 'b'.repeat(50) }, unset: [] }, 10_000)).to.equal(true);
      expect(() => small.sync!.patch('ascii', { set: { s: 'é'.repeat(30) }, unset: [] }, 10_000)).to.throw(InvalidArgumentError);
      expect(await small.get('ascii')).to.deep.equal({ s: 'b'.repeat(50) });
    } finally {
      await small.close();
    }
  });

  describe('on a fake clock', function () {
    // The store's sweep timer and its expiry times both read the faked clock, so these run in no
    // wall-clock time and never race a busy machine.
    let clock: ReturnType<typeof FakeTimers.install>;
    let timed: MemoryStore;
    beforeEach(function () {
      clock = FakeTimers.install({ toFake: ['Date', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
      timed = new MemoryStore({ sweepInterval: 20 });
    });
    afterEach(async function () {
      await timed.close();
      clock.uninstall();
    });

    it('frees expired sessions on its own, without a read', async function () {
      for (let i = 0; i < 100; i++) await timed.set(`s${i}`, { i }, 50);
      expect(timed.valueBytes()).to.be.above(0);
      await clock.tickAsync(40);
      expect(timed.valueBytes(), 'freed before the sessions expired').to.be.above(0);
      await clock.tickAsync(100);
      expect(timed.valueBytes()).to.equal(0);
      expect(timed.expirations).to.equal(100);
    });

    it('moves the expiry of a session written again: a shorter lifetime is swept, a longer one outlives the first', async function () {
      await timed.set('short', { v: 1 }, 60_000);
      await timed.set('short', { v: 2 }, 30);
      await timed.set('long', { v: 1 }, 30);
      expect(await timed.patch('long', { set: { v: 2 }, unset: [] }, 60_000)).to.equal(true);
      await clock.tickAsync(200);
      expect(await timed.get('short')).to.equal(undefined);
      expect(await timed.get('long')).to.deep.equal({ v: 2 });
      expect(timed.expirations).to.equal(1);
    });

    it('slides expiry on touch', async function () {
      await timed.set('x', { v: 1 }, 80);
      for (let i = 0; i < 4; i++) {
        await clock.tickAsync(40);
        await timed.touch('x', 80);
      }
      expect(await timed.get('x')).to.deep.equal({ v: 1 });
      await clock.tickAsync(100);
      expect(await timed.get('x'), 'expired once the touches stopped').to.equal(undefined);
    });
  });

  it('ends ids() even when every id is read during the iteration (reads reorder the LRU)', async function () {
    for (let i = 0; i < 5; i++) await store.set(`s${i}`, { i }, 10_000);
    const seen: string[] = [];
    for await (const id of store.ids()) {
      seen.push(id);
      await store.get(id);
      if (seen.length > 50) break;
    }
    expect(seen).to.have.length(5);
  });

  it('evicts the least recently used session past maxSessions, with an evict event', async function () {
    const bounded = new MemoryStore({ maxSessions: 3 });
    const evicted: string[] = [];
    bounded.on('evict', (id: string) => evicted.push(id));
    await bounded.set('a', {}, 10_000);
    await bounded.set('b', {}, 10_000);
    await bounded.set('c', {}, 10_000);
    await bounded.get('a');
    await bounded.set('d', {}, 10_000);
    expect(evicted).to.deep.equal(['b']);
    expect(await bounded.size()).to.equal(3);
    await bounded.close();
  });

  it('streams ids, and counts, clears and destroys', async function () {
    for (let i = 0; i < 10; i++) await store.set(`s${i}`, { i }, 10_000);
    const ids: string[] = [];
    for await (const id of store.ids()) ids.push(id);
    expect(ids).to.have.length(10);
    await store.destroy('s0');
    await store.destroy('missing');
    expect(await store.size()).to.equal(9);
    await store.clear();
    expect(await store.size()).to.equal(0);
  });

  describe('refuses bad input with a coded error', function () {
    const cases: Array<[string, (s: MemoryStore) => Promise<unknown>]> = [
      ['an empty id', (s) => s.get('')],
      ['an id of 10 KB', (s) => s.set('x'.repeat(10_240), {}, 1000)],
      ['a number as id', (s) => s.get(42 as unknown as string)],
      ['an array as data', (s) => s.set('x', [] as unknown as Record<string, unknown>, 1000)],
      ['null as data', (s) => s.set('x', null as unknown as Record<string, unknown>, 1000)],
      ['a NaN ttl', (s) => s.set('x', {}, Number.NaN)],
      ['a negative ttl on touch', (s) => s.touch('x', -1)],
      ['a value over maxValueBytes', (s) => s.set('x', { big: 'y'.repeat(2 * 1024 * 1024) }, 1000)],
    ];
    for (const [what, call] of cases) {
      it(what, async function () {
        await expect(call(store)).to.be.rejectedWith(InvalidArgumentError);
      });
    }
  });

  it('refuses calls after close with ERR_SCALEOUT_STORE_CLOSED, and close twice is safe', async function () {
    await store.close();
    await store.close();
    await expect(store.get('x')).to.be.rejected.and.eventually.have.property('code', 'ERR_SCALEOUT_STORE_CLOSED');
    expect(store.available).to.equal(false);
  });

  it('refuses bad options', function () {
    for (const [options, field] of [
      [{ maxSessions: -1 }, 'maxSessions'],
      [{ maxSessions: 1.5 }, 'maxSessions'],
      [{ sweepInterval: 'often' }, 'sweepInterval'],
      [{ maxValueBytes: 0 }, 'maxValueBytes'],
      [{ maxSession: 10 }, 'maxSession'],
    ] as const) {
      expect(() => new MemoryStore(options as never), field).to.throw(ConfigError).with.property('field', field);
    }
    // The config section refuses the same value with the same words, naming store.maxSessions.
    const constructed = (() => {
      try {
        new MemoryStore({ maxSessions: -1 });
      } catch (err) {
        return err as ConfigError;
      }
      throw new Error('expected a refusal');
    })();
    expect(() => parseConfig({ secret: 's', strategy: 'store', store: { type: 'memory', maxSessions: -1 } }))
      .to.throw(ConfigError, constructed.message.replace('config maxSessions', 'config store.maxSessions'))
      .with.property('field', 'store.maxSessions');
    expect(DEFAULT_MEMORY_STORE_OPTIONS).to.deep.equal({ maxSessions: 100_000, sweepInterval: 1000, maxValueBytes: 1024 * 1024 });
  });
});
