import { expect } from 'chai';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { applyPatch, decodeSession, diffSession, isSessionData, snapshotSession } from '@scaleout/core';
import { type RedisStoreConfig, createStore, type RedisStore } from '@scaleout/redis';
import { type HazelcastStoreConfig, createStore as createHazelcastStore, type HazelcastStore } from '@scaleout/hazelcast';
import { type HazelcastCluster, type RedisServer, startHazelcast, startRedis } from '@scaleout/harness';

// A stored value is outside input too: another program, an older version or an attacker with
// write access to the store may have put anything under a session key. Whatever it is, reading
// it gives a plain session object or no session, never a throw.
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);

const bytesArb = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b));
/** JSON text of any value, of near-JSON (a cut or an edit), and arbitrary text. */
const textArb = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.tuple(fc.jsonValue().map((v) => JSON.stringify(v)), fc.nat()).map(([t, n]) => t.slice(0, n % (t.length + 1))),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('null', '123', '[]', '"text"', 'true', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '{'.repeat(5000)),
);

/** What a decoder may return: nothing, or a plain (non-null, non-array) object. */
function expectSessionOrNothing(value: unknown): void {
  if (value !== undefined) {
    expect(isSessionData(value), JSON.stringify(value)).to.equal(true);
    expect(Array.isArray(value)).to.equal(false);
  }
}

describe('fuzz: stored values', function () {
  afterEach(function () {
    // No decoded value may have reached Object.prototype.
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });

  it('decodeSession never throws and gives a plain object or undefined, for any text or bytes (FUZZ_RUNS runs)', function () {
    fc.assert(
      fc.property(fc.oneof(textArb, bytesArb, fc.constantFrom(null, undefined)), (raw) => {
        const out = decodeSession(raw);
        expectSessionOrNothing(out);
        if (typeof raw === 'string') {
          let parsed: unknown;
          try {
            parsed = JSON.parse(raw);
          } catch {
            parsed = undefined;
          }
          // Exactly the JSON objects are sessions; every other JSON value and non-JSON is none.
          expect(out === undefined).to.equal(!isSessionData(parsed));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('decodeSession round-trips every JSON object', function () {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        expect(decodeSession(JSON.stringify(obj))).to.deep.equal(JSON.parse(JSON.stringify(obj)));
      }),
      { numRuns: RUNS },
    );
  });

  it('a patch computed against any stored object turns it into exactly the session the request saved', function () {
    // Stored objects come back through JSON.parse, so keys such as "__proto__" are own keys.
    const stored = fc.oneof(fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }).map((o) => JSON.parse(JSON.stringify(o)) as Record<string, unknown>),
      fc.constantFrom('{"__proto__":{"admin":true},"a":1}', '{"constructor":{"prototype":{"x":1}}}', '{"toString":"x","a":1}', '{"valueOf":1}').map((t) => JSON.parse(t) as Record<string, unknown>));
    fc.assert(
      // A request cannot save an own "__proto__" key (assigning it sets the session's prototype).
      fc.property(stored, stored.filter((o) => !Object.hasOwn(o, '__proto__')), (loaded, saved) => {
        const out = applyPatch(loaded, diffSession(snapshotSession(loaded), saved));
        // Key order is not part of a session's meaning (a patch keeps the stored order).
        expect(out).to.deep.equal(JSON.parse(JSON.stringify(saved)));
      }),
      { numRuns: RUNS },
    );
  });

  describe('RedisStore.get over a real redis-server (FUZZ_RUNS runs)', function () {
    this.timeout(60_000);
    let redis: RedisServer;
    let raw: Redis;
    let store: RedisStore;
    before(async function () {
      redis = await startRedis();
      raw = new Redis(redis.url);
      store = await createStore({ type: 'redis', url: redis.url, prefix: 'fz:' } as RedisStoreConfig);
    });
    after(async function () {
      raw?.disconnect();
      await store?.close();
      await redis?.stop();
    });

    it('reads any stored bytes as a plain session object or none, never a throw', async function () {
      await fc.assert(
        fc.asyncProperty(fc.oneof(textArb, bytesArb), async (value) => {
          await raw.set('fz:victim', value);
          const out = await store.get('victim');
          expectSessionOrNothing(out);
          if (typeof value === 'string') expect(out).to.deep.equal(decodeSession(value));
        }),
        { numRuns: RUNS },
      );
    });

    it('reads keys of other Redis types under the prefix as no session', async function () {
      await raw.del('fz:h', 'fz:l', 'fz:s', 'fz:z');
      await raw.hset('fz:h', 'a', '1');
      await raw.rpush('fz:l', '{}');
      await raw.sadd('fz:s', '{}');
      await raw.zadd('fz:z', 1, '{}');
      for (const id of ['h', 'l', 's', 'z']) expect(await store.get(id), id).to.equal(undefined);
    });
  });

  describe('HazelcastStore.get over a real Hazelcast member (FUZZ_RUNS runs)', function () {
    this.timeout(120_000);
    let cluster: HazelcastCluster;
    let store: HazelcastStore;
    before(async function () {
      cluster = await startHazelcast({ members: 1, backupCount: 0 });
      store = await createHazelcastStore({ type: 'hazelcast', members: cluster.addresses, clusterName: cluster.clusterName, map: 'fuzz' } as HazelcastStoreConfig);
    });
    after(async function () {
      await store?.close();
      await cluster?.stop();
    });

    it('reads any value another client put in the map as a plain session object or none, never a throw', async function () {
      // What a Node.js client can put without a custom serializer: strings, numbers, booleans, bytes.
      const valueArb = fc.oneof(textArb, bytesArb, fc.double(), fc.integer(), fc.boolean());
      await fc.assert(
        fc.asyncProperty(valueArb, async (value) => {
          await store.map.set('victim', value);
          const out = await store.get('victim');
          expectSessionOrNothing(out);
          if (typeof value === 'string') expect(out).to.deep.equal(decodeSession(value));
          else expect(out).to.equal(undefined);
        }),
        { numRuns: RUNS },
      );
    });
  });
});
