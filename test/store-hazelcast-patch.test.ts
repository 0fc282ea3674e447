import { expect } from 'chai';
import { type HazelcastStoreConfig, createStore, type HazelcastStore } from '@scaleout/hazelcast';
import { type HazelcastCluster, startHazelcast } from '@scaleout/harness';

/** Request message types of the IMap operations a save may send (hazelcast-client's codecs). */
const MAP_OPERATIONS: Record<number, string> = {
  0x010200: 'get',
  0x010500: 'replaceIfSame',
  0x014300: 'setTtl',
  0x011000: 'lock',
  0x011300: 'unlock',
  0x011100: 'tryLock',
  0x013300: 'forceUnlock',
  0x010100: 'put',
  0x010f00: 'set',
};

type Sent = { request: { getMessageType(): number } };

/**
 * The IMap requests `store`'s client sent the cluster while `work` ran, by name. Counted where
 * the client hands each request to a connection (its invocation service), so every request is
 * seen once, retries included; requests of other services (heartbeats, the partition table) are
 * left out.
 */
async function mapRequestsDuring(store: HazelcastStore, work: () => Promise<unknown>): Promise<string[]> {
  const service = (store.client as unknown as { invocationService: { send(invocation: Sent, connection: unknown): Promise<void> } }).invocationService;
  const send = service.send;
  const seen: string[] = [];
  service.send = function (invocation: Sent, connection: unknown) {
    const type = invocation.request.getMessageType();
    if (type >> 16 === 1) seen.push(MAP_OPERATIONS[type] ?? `0x${type.toString(16)}`);
    return send.call(this, invocation, connection);
  };
  try {
    await work();
    return seen;
  } finally {
    service.send = send;
  }
}

describe('HazelcastStore patch: compare-and-set, no lock, at most two round trips', function () {
  this.timeout(60_000);
  let cluster: HazelcastCluster;
  let stores: HazelcastStore[];
  before(async () => {
    cluster = await startHazelcast({ members: 1, clusterName: 'patch' });
    const config = { type: 'hazelcast', members: cluster.addresses, clusterName: 'patch', map: 'patch' } as HazelcastStoreConfig;
    stores = await Promise.all([1, 2, 3].map(() => createStore(config)));
  });
  after(async () => {
    await Promise.all((stores ?? []).map((s) => s.close()));
    await cluster?.stop();
  });

  it('after the request’s read, a save is replaceIfSame then setTtl: two round trips, no lock', async () => {
    const [store] = stores;
    await store!.set('s', { a: 1 }, 60_000);
    await stores[1]!.get('s'); // another node's read does not make this one's value stale
    expect(await store!.get('s')).to.deep.equal({ a: 1 });
    expect(await mapRequestsDuring(store!, () => store!.patch('s', { set: { b: 2 }, unset: ['a'] }, 60_000))).to.deep.equal(['replaceIfSame', 'setTtl']);
    // The next save of this node compares against what it wrote: no read either.
    expect(await mapRequestsDuring(store!, () => store!.patch('s', { set: { c: 3 }, unset: [] }, 60_000))).to.deep.equal(['replaceIfSame', 'setTtl']);
    expect(await store!.get('s')).to.deep.equal({ b: 2, c: 3 });
  });

  it('a save whose value another node changed reads once more, and keeps that node’s change', async () => {
    const [a, b] = stores;
    await a!.set('t', { start: 1 }, 60_000);
    await a!.get('t');
    await b!.patch('t', { set: { fromB: true }, unset: [] }, 60_000);
    expect(await mapRequestsDuring(a!, () => a!.patch('t', { set: { fromA: true }, unset: [] }, 60_000))).to.deep.equal(['replaceIfSame', 'get', 'replaceIfSame', 'setTtl']);
    expect(await a!.get('t')).to.deep.equal({ start: 1, fromB: true, fromA: true });
  });

  it('leaves the entry with the patch’s TTL (replaceIfSame alone would clear it)', async () => {
    const [store] = stores;
    await store!.set('ttl', { a: 1 }, 600_000);
    await store!.get('ttl');
    await store!.patch('ttl', { set: { b: 1 }, unset: [] }, 90_000);
    const view = await store!.map.getEntryView('ttl');
    expect(Number(view!.ttl)).to.equal(90_000);
  });

  it('never brings back a destroyed or expired session', async () => {
    const [a, b] = stores;
    await a!.set('gone', { a: 1 }, 60_000);
    await a!.get('gone');
    await b!.destroy('gone');
    expect(await a!.patch('gone', { set: { late: 1 }, unset: [] }, 60_000)).to.equal(false);
    expect(await a!.map.containsKey('gone')).to.equal(false);
    for (let round = 0; round < 10; round++) {
      const id = `race${round}`;
      await a!.set(id, { a: 1 }, 60_000);
      await Promise.all(Array.from({ length: 8 }, (_, i) => (i === round % 8 ? b!.destroy(id) : stores[i % 3]!.patch(id, { set: { [`k${i}`]: i }, unset: [] }, 60_000))));
      expect(await a!.map.containsKey(id), `round ${round}`).to.equal(false);
    }
  });

  it('keeps every key of 60 concurrent patches from three nodes', async () => {
    await stores[0]!.set('hot', { start: true }, 60_000);
    await Promise.all(stores.map((s) => s.get('hot')));
    const requests = await mapRequestsDuring(stores[0]!, () =>
      Promise.all(Array.from({ length: 60 }, (_, i) => stores[i % 3]!.patch('hot', { set: { [`k${i}`]: i }, unset: [] }, 60_000))),
    );
    const got = (await stores[0]!.get('hot'))!;
    expect(Object.keys(got).sort()).to.deep.equal(['start', ...Array.from({ length: 60 }, (_, i) => `k${i}`)].sort());
    expect(requests.filter((r) => /lock/i.test(r)), 'lock requests').to.deep.equal([]);
  });

  it('keeps every key when one node streams 150 patches of a hot session and two others send 100 between them', async () => {
    await stores[0]!.set('stream', { start: true }, 60_000);
    await Promise.all(stores.map((s) => s.get('stream')));
    // The streaming node wins each compare-and-set from the value it just wrote; the others must read first.
    const streamed = Array.from({ length: 150 }, (_, i) => stores[0]!.patch('stream', { set: { [`s${i}`]: i }, unset: [] }, 60_000));
    const others = Array.from({ length: 100 }, (_, i) => stores[1 + (i % 2)]!.patch('stream', { set: { [`o${i}`]: i }, unset: [] }, 60_000));
    const results = await Promise.allSettled([...streamed, ...others]);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), 'failed patches').to.deep.equal([]);
    const got = (await stores[0]!.get('stream'))!;
    expect(Object.keys(got)).to.have.length(1 + 150 + 100);
  });
});
