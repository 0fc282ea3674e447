import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createStrategy, ErrorCodes, type Strategy } from '@scaleout/core';
import { RedisStore } from '@scaleout/redis';
import { eventually, type RedisServer, startRedis } from '@scaleout/harness';

const TTL = 60_000;

/**
 * A save that its caller gave up on must never land later over a newer one. Here node A's
 * connection is held up inside Redis by a blocking command (as it would be behind any slow
 * command, or by ioredis resending it after a reconnect): A's save times out, node B saves
 * meanwhile, then Redis gets to A's save. It must be refused, not applied.
 */
describe('Redis store: a save that timed out never lands later', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  const strategies: Strategy[] = [];
  const clients: Redis[] = [];
  let a: RedisStore;
  let b: RedisStore;

  before(async function () {
    redis = await startRedis();
    for (const nodeId of ['node-a', 'node-b']) {
      const s = await createStrategy({ strategy: 'store', nodeId, secret: 'late secret', store: { type: 'redis', url: redis.url, commandTimeout: '400ms' } });
      strategies.push(s);
    }
    a = strategies[0]!.store as RedisStore;
    b = strategies[1]!.store as RedisStore;
  });
  after(async function () {
    for (const c of clients) c.disconnect();
    await Promise.all(strategies.map((s) => s.close()));
    await redis?.stop();
  });

  /** Holds `store`'s connection inside Redis for `seconds` (its own command times out client-side at once). */
  function holdUp(store: RedisStore, seconds: number): Promise<unknown> {
    return store.client.blpop(`late-test-nothing-${Math.random()}`, seconds).catch((err: unknown) => err);
  }

  /** Resolves once `store`'s connection answers again. */
  async function released(store: RedisStore): Promise<void> {
    await eventually(async () => (await store.client.ping().catch(() => 'held')) === 'PONG', 10_000, 'the held connection answers again');
  }

  it('refuses a late patch: the newer save stays', async function () {
    const id = 'late-patch';
    await b.set(id, { n: 0, other: 'kept' }, TTL);
    await a.get(id); // A's clock reading is done by now (it went first on A's connection)
    const held = holdUp(a, 1.5);
    const late = await a.patch(id, { set: { n: 1 }, unset: [] }, TTL).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(late, 'the held save times out').to.have.property('code', ErrorCodes.STORE_TIMEOUT);
    await b.patch(id, { set: { n: 2 }, unset: [] }, TTL);
    await held;
    await released(a);
    expect(await b.get(id)).to.deep.equal({ n: 2, other: 'kept' });
  });

  it('refuses a late full save: the newer save stays', async function () {
    const id = 'late-set';
    await b.set(id, { n: 0 }, TTL);
    await a.get(id);
    const held = holdUp(a, 1.5);
    const late = await a.set(id, { n: 1, extra: true }, TTL).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(late).to.have.property('code', ErrorCodes.STORE_TIMEOUT);
    await b.set(id, { n: 2 }, TTL);
    await held;
    await released(a);
    expect(await b.get(id)).to.deep.equal({ n: 2 });
  });

  it('applies a save that was held up but reached Redis within its deadline', async function () {
    const id = 'in-time';
    await b.set(id, { n: 0 }, TTL);
    await a.get(id);
    const held = holdUp(a, 0.15);
    // Sent while the connection is held, answered once it is free: within the 400 ms.
    await a.patch(id, { set: { n: 1 }, unset: [] }, TTL);
    await held;
    expect(await b.get(id)).to.deep.equal({ n: 1 });
  });

  it('lands late without a deadline (writeDeadline: false), which is what the deadline prevents', async function () {
    const client = new Redis(redis.url, { commandTimeout: 400, maxRetriesPerRequest: 1 });
    clients.push(client);
    const open = new RedisStore({ client, writeDeadline: false });
    const id = 'no-deadline';
    await b.set(id, { n: 0 }, TTL);
    await open.get(id);
    const held = open.client.blpop('late-test-nothing-open', 1.5).catch((err: unknown) => err);
    const late = await open.patch(id, { set: { n: 1 }, unset: [] }, TTL).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(late).to.have.property('code', ErrorCodes.STORE_TIMEOUT);
    await b.patch(id, { set: { n: 2 }, unset: [] }, TTL);
    await held;
    await eventually(async () => (await open.client.ping().catch(() => 'held')) === 'PONG', 10_000, 'the held connection answers again');
    expect(await b.get(id)).to.deep.equal({ n: 1 });
    await open.close();
  });
});
