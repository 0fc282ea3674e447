import { expect } from 'chai';
import { createStrategy, ErrorCodes, type ScaleoutError, type Strategy } from '@scaleout/core';
import { type HazelcastStoreConfig, createStore, HazelcastStore } from '@scaleout/hazelcast';
import { describeStoreContract } from './support/store-contract.js';
import { eventually, freePort, type HazelcastCluster, startHazelcast } from '@scaleout/harness';
import { startSessionApp } from './support/write-load.js';
import type { RunningServer } from './support/http.js';

const hazelcastConfig = (cluster: HazelcastCluster, map: string, more: Partial<HazelcastStoreConfig> = {}) =>
  ({ type: 'hazelcast', members: cluster.addresses, clusterName: cluster.clusterName, map, ...more }) as HazelcastStoreConfig;

describe('HazelcastStore', function () {
  this.timeout(60_000);
  let cluster: HazelcastCluster;
  before(async () => {
    cluster = await startHazelcast({ members: 1 });
  });
  after(async () => {
    await cluster?.stop();
  });

  describeStoreContract('HazelcastStore', () => createStore(hazelcastConfig(cluster, 'contract')), { patch: true, lock: true });

  describe('the index of sessions by user', () => {
    let store: HazelcastStore;
    before(async () => {
      store = await createStore(hazelcastConfig(cluster, 'by-user-writes'));
      store.indexUsers('userId');
    });
    after(async () => {
      await store?.close();
    });
    const entry = async (id: string) => {
      const users = await store.client.getMap<string, string>('by-user-writes.users');
      const view = await users.getEntryView(id);
      return view ? { user: view.value, version: Number(view.version), ttl: Number(view.ttl) } : undefined;
    };

    it('writes a session\'s companion entry when its user changes or its lifetime outgrows the entry, not on every save', async () => {
      await store.set('w', { userId: 'ada', n: 0 }, 60_000);
      const first = (await entry('w'))!;
      expect(first.user).to.equal('ada');
      expect(first.ttl, 'the session\'s lifetime and five minutes more').to.equal(60_000 + 300_000);
      for (let i = 1; i <= 3; i++) expect(await store.patch('w', { set: { n: i }, unset: [] }, 60_000)).to.equal(true);
      expect((await entry('w'))!.version, 'saves that keep the user leave the entry alone').to.equal(first.version);
      expect(await store.patch('w', { set: { n: 4 }, unset: [] }, 20 * 60_000)).to.equal(true);
      const longer = (await entry('w'))!;
      expect(longer.version).to.be.above(first.version);
      expect(longer.ttl).to.equal(20 * 60_000 + 300_000);
      expect(await store.patch('w', { set: { userId: 'bob' }, unset: [] }, 60_000)).to.equal(true);
      expect((await entry('w'))!.user).to.equal('bob');
      expect(await store.sessionsOf('bob')).to.deep.equal(['w']);
      expect(await store.sessionsOf('ada')).to.deep.equal([]);
      expect(await store.patch('w', { set: {}, unset: ['userId'] }, 60_000)).to.equal(true);
      expect(await entry('w')).to.equal(undefined);
      await store.destroy('w');
    });

    it('another process\'s saves of the same session keep the entry too', async () => {
      const other = await createStore(hazelcastConfig(cluster, 'by-user-writes'));
      other.indexUsers('userId');
      try {
        await store.set('x', { userId: 'cyd' }, 60_000);
        expect(await other.patch('x', { set: { userId: 'dan' }, unset: [] }, 60_000)).to.equal(true);
        expect(await store.patch('x', { set: { n: 1 }, unset: [] }, 60_000)).to.equal(true);
        expect(await store.sessionsOf('dan')).to.deep.equal(['x']);
        expect((await entry('x'))!.user).to.equal('dan');
      } finally {
        await other.close();
      }
    });
  });

  describe('bad input', () => {
    let store: HazelcastStore;
    before(async () => {
      store = await createStore(hazelcastConfig(cluster, 'bad-input'));
    });
    after(async () => {
      await store?.close();
    });

    it('refuses bad constructor options with a ConfigError naming the field', () => {
      const table: Array<[Record<string, unknown>, string]> = [
        [{ pageSize: 0 }, 'pageSize'],
        [{ maxValueBytes: 1.5 }, 'maxValueBytes'],
        [{ commandTimeout: 'soon' }, 'commandTimeout'],
        [{ commandTimeout: 0 }, 'commandTimeout'],
        [{ map: {} }, 'map'],
        [{ client: {} }, 'client'],
        [{ pagesize: 10 }, 'pagesize'],
      ];
      for (const [bad, field] of table) {
        expect(() => new HazelcastStore({ client: store.client, map: store.map, ...bad } as never), field)
          .to.throw()
          .that.includes({ code: ErrorCodes.CONFIG, field });
      }
    });

    it('reads values that are not sessions as no session, and counts them', async () => {
      const invalid: string[] = [];
      store.on('invalid', (id: string) => invalid.push(id));
      const before = store.invalidValues;
      const odd: [string, unknown][] = [
        ['garbage', '\u0000\u00ff{not json'],
        ['number', 123],
        ['json-number', '123'],
        ['json-null', 'null'],
        ['json-array', '[]'],
        ['json-string', '"a string"'],
        ['boolean', true],
        ['bytes', Buffer.from([0xde, 0xad, 0xbe, 0xef])],
      ];
      for (const [id, value] of odd) await store.map.set(id, value);
      for (const [id] of odd) expect(await store.get(id), id).to.equal(undefined);
      expect(store.invalidValues - before).to.equal(odd.length);
      expect(invalid).to.deep.equal(odd.map(([id]) => id));
      // A fresh write over a bad value repairs it.
      await store.set('garbage', { ok: true }, 60_000);
      expect(await store.get('garbage')).to.deep.equal({ ok: true });
    });

    it('patch and lock hold across two clients (two app processes)', async () => {
      const other = await createStore(hazelcastConfig(cluster, 'bad-input'));
      try {
        await store.set('shared', { start: true }, 60_000);
        await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? store : other).patch('shared', { set: { [`k${i}`]: i }, unset: [] }, 60_000)));
        expect(Object.keys((await store.get('shared'))!).length).to.equal(13);
        const release = await store.lock('shared', { ttlMs: 5000, waitMs: 100 });
        await expect(other.lock('shared', { ttlMs: 5000, waitMs: 200 })).to.be.rejected.and.eventually.include({ code: ErrorCodes.LOCK_TIMEOUT });
        await release();
        await (await other.lock('shared', { ttlMs: 5000, waitMs: 1000 }))();
      } finally {
        await other.close();
      }
    });

    it('rejects an unreachable cluster at start-up within connectTimeout, naming the addresses', async () => {
      const port = await freePort();
      const started = Date.now();
      const attempt = createStore({ type: 'hazelcast', members: [`127.0.0.1:${port}`], clusterName: 'nowhere', map: 'x', connectTimeout: 1500 } as HazelcastStoreConfig);
      await expect(attempt).to.be.rejected.and.eventually.satisfy((err: Error & { code: string }) => {
        expect(err.code).to.equal(ErrorCodes.STORE_UNAVAILABLE);
        expect(err.message).to.include(`127.0.0.1:${port}`).and.include('"nowhere"');
        return true;
      });
      expect(Date.now() - started).to.be.lessThan(10_000);
    });

    it('rejects a config of the wrong shape with the field named', async () => {
      await expect(createStore({ type: 'hazelcast', members: ['not an address'] } as unknown as HazelcastStoreConfig)).to.be.rejected.and.eventually.include({ code: ErrorCodes.CONFIG, field: 'store.members.0' });
      await expect(createStore({ type: 'redis', url: 'redis://x' } as unknown as HazelcastStoreConfig)).to.be.rejected.and.eventually.include({ code: ErrorCodes.CONFIG, field: 'store.type' });
    });
  });
});

describe('HazelcastStore when the whole cluster goes down and comes back, through Koa', function () {
  this.timeout(90_000);
  let cluster: HazelcastCluster;
  let strategy: Strategy;
  let store: HazelcastStore;
  let app: RunningServer;
  const events: string[] = [];
  before(async () => {
    cluster = await startHazelcast({ members: 1, clusterName: 'outage' });
    strategy = await createStrategy({ strategy: 'store', secret: 'outage', store: hazelcastConfig(cluster, 'outage', { commandTimeout: 1000 }) });
    store = strategy.store as HazelcastStore;
    store.on('down', () => events.push('down'));
    store.on('up', () => events.push('up'));
    app = await startSessionApp(strategy, 'koa');
  });
  after(async () => {
    await app?.close();
    await strategy?.close();
    await cluster?.stop();
  });

  it('fails fast while offline (503 over HTTP), then reconnects by itself to the member restarted on the same port', async () => {
    await store.set('before', { v: 1 }, 60_000);
    await cluster.members[0]!.kill('SIGKILL');
    await eventually(() => store.available === false, 10_000, 'store reported down');
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const err = (await expect(store.get('before')).to.be.rejected) as ScaleoutError;
      // By code: this store came through createStrategy's import(), so its error classes are the
      // ES module copy of @scaleout/core, not the one this spec file was loaded with.
      expect(err.code, err.message).to.equal(ErrorCodes.STORE_UNAVAILABLE);
      expect(Date.now() - started).to.be.lessThan(1500);
      const res = await fetch(`${app.url}/write?n=${i}`, { method: 'POST', signal: AbortSignal.timeout(5000) });
      expect(res.status).to.equal(503);
      expect(Date.now() - started).to.be.lessThan(3000);
    }
    await cluster.members[0]!.restart();
    await eventually(() => store.available, 30_000, 'store reported up');
    await eventually(async () => (await fetch(`${app.url}/write?n=9`, { method: 'POST' })).status === 200, 10_000, 'HTTP writes succeed again');
    await store.set('after', { v: 2 }, 60_000);
    expect(await store.get('after')).to.deep.equal({ v: 2 });
    expect(events.slice(0, 2)).to.deep.equal(['down', 'up']);
  });
});
