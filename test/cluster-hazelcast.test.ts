import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { ReplicatedStore } from '@scaleout/cluster';
import { HazelcastTransport } from '@scaleout/hazelcast';
import { eventually, type HazelcastCluster, startHazelcast } from '@scaleout/harness';

describe('cluster strategy over a Hazelcast reliable topic', function () {
  this.timeout(90_000);
  let hz: HazelcastCluster;
  const stores: ReplicatedStore[] = [];

  before(async function () {
    hz = await startHazelcast();
    const topic = `repl-${randomUUID()}`;
    for (const nodeId of ['node-a', 'node-b']) {
      const transport = new HazelcastTransport({ members: hz.addresses, clusterName: hz.clusterName, topic });
      const store = new ReplicatedStore({ nodeId, secret: 'hz-secret', transport, discoveryWait: 500, antiEntropyInterval: 2000 });
      await store.start();
      stores.push(store);
    }
  });
  after(async function () {
    await Promise.all(stores.map((s) => s.close()));
    await hz?.stop();
  });

  it('replicates writes, touches and destroys between two stores through a real member', async function () {
    const [a, b] = stores as [ReplicatedStore, ReplicatedStore];
    await a.set('hz-1', { user: 'alice' }, 60_000);
    await b.set('hz-2', { user: 'bob' }, 60_000);
    await eventually(async () => (await b.get('hz-1'))?.user === 'alice' && (await a.get('hz-2'))?.user === 'bob', 10_000, 'both writes on both nodes');
    await a.destroy('hz-2');
    await eventually(async () => (await b.get('hz-2')) === undefined, 10_000, 'destroy replicated');
    const before = b.digest();
    await a.touch('hz-1', 120_000);
    // The digest covers expiries: B's changes once the touch arrives, then equals A's.
    await eventually(() => b.digest() !== before && a.digest() === b.digest(), 10_000, 'touch replicated, equal digests');
    expect(await b.size()).to.equal(1);
    expect(b.stats().dropped).to.deep.equal({ oversized: 0, malformed: 0, forged: 0, replayed: 0, unknownType: 0 });
  });
});
