import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { ErrorCodes, type SessionData, type SessionStore } from '@scaleout/core';
import { eventually } from '@scaleout/harness';

/** Builds a fresh, ready store over the backend under test. Called once per suite (and once more for the close test). */
export type StoreFactory = () => Promise<SessionStore>;

const newId = () => randomBytes(16).toString('base64url');

/** Writes `count` sessions with `parallel` writes in flight, ids `${tag}-<n>`. */
export async function fillStore(store: SessionStore, tag: string, count: number, ttlMs = 60_000, parallel = 200): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${tag}-${i}`);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        await store.set(id, { n: id }, ttlMs);
      }
    }),
  );
  return ids;
}

/** Every id of a store, as a set (failing on a duplicate would be too strict for SCAN; the count is checked apart). */
export async function collectIds(store: SessionStore): Promise<string[]> {
  const out: string[] = [];
  for await (const id of store.ids()) out.push(id);
  return out;
}

/**
 * The behaviour every `SessionStore` must have, whatever holds the sessions. One suite, run
 * against memory, Redis (standalone, Sentinel, Cluster) and Hazelcast, is what makes switching
 * between them a config change only.
 */
export function describeStoreContract(name: string, factory: StoreFactory, features: { patch?: boolean; lock?: boolean } = {}): void {
  describe(`SessionStore contract: ${name}`, function () {
    this.timeout(60_000);
    let store: SessionStore;

    before(async () => {
      store = await factory();
    });
    after(async () => {
      await store?.close();
    });

    it('reads back what was written, and nothing for an unknown id', async () => {
      const id = newId();
      const data = { user: 'ada', roles: ['admin'], nested: { n: 1, ok: true, nothing: null }, cookie: { maxAge: 1000 } };
      await store.set(id, data, 60_000);
      expect(await store.get(id)).to.deep.equal(data);
      expect(await store.get(newId())).to.equal(undefined);
    });

    it('overwrites a session as a whole', async () => {
      const id = newId();
      await store.set(id, { a: 1, b: 2 }, 60_000);
      await store.set(id, { c: 3 }, 60_000);
      expect(await store.get(id)).to.deep.equal({ c: 3 });
    });

    it('hands out copies: mutating what get returned or what set was given never changes the store', async () => {
      const id = newId();
      const written: SessionData = { list: [1, 2], inner: { x: 1 } };
      await store.set(id, written, 60_000);
      (written.list as number[]).push(3);
      const first = (await store.get(id))!;
      (first.inner as { x: number }).x = 99;
      first.added = true;
      expect(await store.get(id)).to.deep.equal({ list: [1, 2], inner: { x: 1 } });
    });

    it('expires a session after its TTL', async () => {
      const id = newId();
      await store.set(id, { short: true }, 300);
      await eventually(async () => (await store.get(id)) === undefined, 5000, 'session expired');
      expect(await store.get(id)).to.equal(undefined);
    });

    it('touch slides the expiry; touch on a missing id neither fails nor creates it', async () => {
      const kept = newId();
      const dropped = newId();
      await store.set(kept, { k: 1 }, 1000);
      await store.set(dropped, { d: 1 }, 1000);
      await store.touch(kept, 60_000);
      await eventually(async () => (await store.get(dropped)) === undefined, 5000, 'untouched session expired');
      expect(await store.get(kept)).to.deep.equal({ k: 1 });
      const missing = newId();
      await store.touch(missing, 60_000);
      expect(await store.get(missing)).to.equal(undefined);
    });

    it('destroy removes a session; destroying a missing id is not an error', async () => {
      const id = newId();
      await store.set(id, { gone: false }, 60_000);
      await store.destroy(id);
      expect(await store.get(id)).to.equal(undefined);
      await store.destroy(id);
      expect(await store.get(id)).to.equal(undefined);
    });

    it('lists, counts and clears its sessions', async () => {
      await store.clear();
      expect(await store.size()).to.equal(0);
      const ids = await fillStore(store, `list-${newId()}`, 25);
      expect(await store.size()).to.equal(25);
      expect([...new Set(await collectIds(store))].sort()).to.deep.equal([...ids].sort());
      await store.clear();
      expect(await store.size()).to.equal(0);
      expect(await collectIds(store)).to.deep.equal([]);
      expect(await store.get(ids[0]!)).to.equal(undefined);
    });

    it('keeps a 100 KB session intact', async () => {
      const id = newId();
      const big = { blob: randomBytes(75 * 1024).toString('base64'), unicode: 'żółć 🙂 \u0000 "quotes" \\' };
      expect(JSON.stringify(big).length).to.be.greaterThan(100_000);
      await store.set(id, big, 60_000);
      expect(await store.get(id)).to.deep.equal(big);
    });

    it('holds 10,000 sessions: writes, counts, lists and clears them', async () => {
      await store.clear();
      const ids = await fillStore(store, `bulk-${newId()}`, 10_000);
      expect(await store.size()).to.equal(10_000);
      const listed = await collectIds(store);
      expect(new Set(listed).size).to.equal(10_000);
      expect(await store.get(ids[4321]!)).to.deep.equal({ n: ids[4321] });
      await store.clear();
      expect(await store.size()).to.equal(0);
    });

    it('accepts ids with odd characters, and lists them unchanged', async () => {
      await store.clear();
      const odd = ['a b', 'x*y?[z]\\', '{hash}tag', 'ünïcødé-🙂', 'line\nbreak', "quote'\"", '%2F..%00', 's:sig.nature'];
      for (const id of odd) await store.set(id, { id }, 60_000);
      for (const id of odd) expect(await store.get(id)).to.deep.equal({ id });
      expect((await collectIds(store)).sort()).to.deep.equal([...odd].sort());
      await store.clear();
    });

    it('refuses bad arguments with coded errors', async () => {
      const bad = { code: ErrorCodes.INVALID_ARGUMENT };
      await expect(store.get('')).to.be.rejected.and.eventually.include(bad);
      await expect(store.get('x'.repeat(10_000))).to.be.rejected.and.eventually.include(bad);
      await expect(store.get(42 as unknown as string)).to.be.rejected.and.eventually.include(bad);
      await expect(store.set(newId(), { a: 1 }, 0)).to.be.rejected.and.eventually.include(bad);
      await expect(store.set(newId(), { a: 1 }, Number.NaN)).to.be.rejected.and.eventually.include(bad);
      await expect(store.set(newId(), [] as unknown as SessionData, 1000)).to.be.rejected.and.eventually.include(bad);
      await expect(store.set(newId(), null as unknown as SessionData, 1000)).to.be.rejected.and.eventually.include(bad);
      await expect(store.touch(newId(), -5)).to.be.rejected.and.eventually.include(bad);
    });

    it('refuses an oversized session and keeps the previous value', async () => {
      const id = newId();
      await store.set(id, { small: true }, 60_000);
      await expect(store.set(id, { huge: 'x'.repeat(2 * 1024 * 1024) }, 60_000)).to.be.rejected.and.eventually.include({ code: ErrorCodes.INVALID_ARGUMENT });
      expect(await store.get(id)).to.deep.equal({ small: true });
    });

    if (features.patch) {
      it('patch: concurrent patches of different keys all survive; a missing session is not recreated', async () => {
        const id = newId();
        await store.set(id, { base: true, drop: 1 }, 60_000);
        await Promise.all(Array.from({ length: 20 }, (_, i) => store.patch!(id, { set: { [`k${i}`]: i }, unset: [] }, 60_000)));
        await store.patch!(id, { set: {}, unset: ['drop'] }, 60_000);
        const expected: SessionData = { base: true };
        for (let i = 0; i < 20; i++) expected[`k${i}`] = i;
        expect(await store.get(id)).to.deep.equal(expected);
        const gone = newId();
        expect(await store.patch!(gone, { set: { a: 1 }, unset: [] }, 60_000)).to.equal(false);
        expect(await store.get(gone)).to.equal(undefined);
      });
    }

    if (features.lock) {
      it('lock: one holder at a time, waiters served after release, a bounded wait, expiry of a dead holder', async () => {
        const id = newId();
        const order: string[] = [];
        const release = await store.lock!(id, { ttlMs: 5000, waitMs: 2000 });
        const second = store.lock!(id, { ttlMs: 5000, waitMs: 2000 }).then((r) => {
          order.push('second');
          return r;
        });
        await new Promise((r) => setTimeout(r, 100));
        order.push('first releases');
        await release();
        await (await second)();
        expect(order).to.deep.equal(['first releases', 'second']);
        const held = await store.lock!(id, { ttlMs: 5000, waitMs: 100 });
        await expect(store.lock!(id, { ttlMs: 5000, waitMs: 150 })).to.be.rejected.and.eventually.include({ code: ErrorCodes.LOCK_TIMEOUT });
        await held();
        // A holder that never releases frees the lock after its ttl.
        await store.lock!(id, { ttlMs: 300, waitMs: 100 });
        const after = await store.lock!(id, { ttlMs: 1000, waitMs: 3000 });
        await after();
      });
    }

    it('is closed for good after close(), which is safe twice', async () => {
      const other = await factory();
      await other.close();
      await other.close();
      await expect(other.get(newId())).to.be.rejected.and.eventually.include({ code: ErrorCodes.STORE_CLOSED });
    });
  });
}
