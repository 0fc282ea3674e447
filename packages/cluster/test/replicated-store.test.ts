import FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { eventually } from '@scaleout/harness';
import { closeNodes, contents, startNode, startNodes, type TestNode } from './nodes.js';

describe('ReplicatedStore (in-process)', () => {
  let nodes: TestNode[] = [];
  afterEach(async () => {
    await closeNodes(nodes);
    nodes = [];
  });

  it('copies a write on one node to every other node', async () => {
    nodes = await startNodes(3);
    const [a, b, c] = nodes.map((n) => n.store);
    await a!.set('s1', { user: 'alice' }, 60_000);
    await eventually(async () => (await b!.get('s1'))?.user === 'alice' && (await c!.get('s1'))?.user === 'alice', 2000, 'replication');
    expect(await c!.size()).to.equal(1);
  });

  it('converges on one value when all nodes write the same sessions concurrently', async () => {
    nodes = await startNodes(3);
    const stores = nodes.map((n) => n.store);
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 1000; i++) {
      const store = stores[i % 3]!;
      writes.push(store.set(`s${i % 50}`, { writer: store.nodeId, i }, 60_000));
    }
    await Promise.all(writes);
    await eventually(() => new Set(stores.map((s) => s.digest())).size === 1, 5000, 'equal digests');
    const all = await Promise.all(stores.map(contents));
    expect(all[1]).to.equal(all[0]);
    expect(all[2]).to.equal(all[0]);
    expect(await stores[0]!.size()).to.equal(50);
  });

  it('never brings back a destroyed session, whatever arrives late', async () => {
    nodes = await startNodes(2);
    const [a, b] = nodes.map((n) => n.store);
    await a!.set('gone', { v: 1 }, 60_000);
    await eventually(async () => Boolean(await b!.get('gone')), 2000);
    // B writes while A destroys; B's write is newer by clock but must lose to the tombstone.
    nodes[1]!.transport.disconnect();
    await a!.destroy('gone');
    await b!.set('gone', { v: 2 }, 60_000);
    nodes[1]!.transport.reconnect();
    await eventually(async () => (await a!.get('gone')) === undefined && (await b!.get('gone')) === undefined, 3000, 'destroy wins');
    await b!.set('gone', { v: 3 }, 60_000);
    expect(await b!.get('gone')).to.equal(undefined);
    expect(b!.stats().writesAfterDestroy).to.equal(1);
  });

  it('replicates touches as expiry moves and expires at the same absolute time everywhere', async () => {
    nodes = await startNodes(2, { expiryResolution: 10 });
    const [a, b] = nodes.map((n) => n.store);
    await a!.set('t', { v: 1 }, 300);
    await eventually(async () => Boolean(await b!.get('t')), 2000);
    const before = a!.stats().bytesSent;
    const appliedBefore = b!.stats().applied;
    await a!.touch('t', 60_000);
    const touchBytes = a!.stats().bytesSent - before;
    expect(touchBytes).to.be.below(200);
    await eventually(() => b!.stats().applied > appliedBefore, 2000, 'the touch applied on the other node');
    // Expiry reads Date: a faked one moves past each TTL at once, however busy the machine.
    const clock = FakeTimers.install({ toFake: ['Date'] });
    try {
      clock.tick(400);
      expect(await b!.get('t')).to.deep.equal({ v: 1 });
      await a!.set('short', { v: 1 }, 100);
      clock.tick(250);
      expect(await a!.get('short')).to.equal(undefined);
      expect(await b!.get('short')).to.equal(undefined);
    } finally {
      clock.uninstall();
    }
  });

  it('batches the writes of one event-loop turn into one frame', async () => {
    nodes = await startNodes(2);
    const [a] = nodes.map((n) => n.store);
    const before = a!.stats().writeFrames;
    await Promise.all(Array.from({ length: 100 }, (_, i) => a!.set(`b${i}`, { i }, 60_000)));
    expect(a!.stats().writeFrames - before).to.equal(1);
  });

  it('detects gaps and converges when messages are lost', async () => {
    nodes = await startNodes(3, { antiEntropyInterval: 300 });
    for (const n of nodes) n.transport.dropRate = 0.3;
    const stores = nodes.map((n) => n.store);
    for (let round = 0; round < 20; round++) {
      await Promise.all(stores.map((s, k) => s.set(`l${(round * 7 + k) % 40}`, { round, k }, 60_000)));
    }
    for (const n of nodes) n.transport.dropRate = 0;
    await eventually(() => new Set(stores.map((s) => s.digest())).size === 1, 5000, 'convergence after loss');
    expect(stores.reduce((n, s) => n + s.stats().gaps, 0)).to.be.above(0);
  });

  it('resyncs after a disconnect', async () => {
    nodes = await startNodes(2, { antiEntropyInterval: 60_000 });
    const [a, b] = nodes.map((n) => n.store);
    nodes[1]!.transport.disconnect();
    for (let i = 0; i < 20; i++) await a!.set(`d${i}`, { i }, 60_000);
    expect(await b!.size()).to.equal(0);
    nodes[1]!.transport.reconnect();
    await eventually(async () => (await b!.size()) === 20, 3000, 'resync after reconnect');
    expect(b!.digest()).to.equal(a!.digest());
  });

  it('gives a joining node a snapshot before it is ready', async () => {
    nodes = await startNodes(2, { maxMessageBytes: 64 * 1024 });
    const [a] = nodes.map((n) => n.store);
    await Promise.all(Array.from({ length: 3000 }, (_, i) => a!.set(`j${i}`, { i, pad: 'x'.repeat(200) }, 60_000)));
    await a!.destroy('j0');
    const bus = nodes[0]!.transport.bus;
    const peers = nodes.map((n) => n.store);
    // Let the writes, and any repair they crossed with, settle before counting bytes.
    await eventually(() => peers[1]!.digest() === a!.digest(), 3000, 'writes reached the other node');
    await new Promise((r) => setTimeout(r, 200));
    const before = peers.map((p) => ({ bytes: p.stats().bytesReceived, served: p.stats().snapshotsServed }));
    // A generous discovery wait: on a loaded machine a busy peer may answer late.
    const joined = await startNode(bus, 'node-z', { maxMessageBytes: 64 * 1024, discoveryWait: 1000 });
    nodes.push(joined);
    expect(joined.store.ready).to.equal(true);
    expect(joined.store.stats().snapshotsReceived, JSON.stringify(joined.store.stats())).to.equal(1);
    expect(await joined.store.size()).to.equal(2999);
    expect(await joined.store.get('j0')).to.equal(undefined);
    expect(joined.store.digest()).to.equal(a!.digest());
    // The snapshot was addressed to the joiner: the other node did not receive it.
    expect(joined.store.stats().bytesReceived).to.be.above(600_000);
    const bystander = peers.findIndex((p, i) => p.stats().snapshotsServed === before[i]!.served);
    expect(bystander).to.be.at.least(0);
    expect(peers[bystander]!.stats().bytesReceived - before[bystander]!.bytes).to.be.below(100_000);
  });

  it('lets nodes that start at the same moment all become ready and converge', async () => {
    const bus = `simultaneous-${Date.now()}`;
    nodes = await Promise.all(['p', 'q', 'r'].map((id) => startNode(bus, `node-${id}`, { antiEntropyInterval: 200 })));
    const stores = nodes.map((n) => n.store);
    expect(stores.every((s) => s.ready)).to.equal(true);
    await Promise.all(stores.map((s, k) => s.set(`sim-${k}`, { k }, 60_000)));
    await eventually(async () => (await Promise.all(stores.map((s) => s.size()))).every((n) => n === 3), 3000, 'every write everywhere');
    await eventually(() => new Set(stores.map((s) => s.digest())).size === 1, 3000, 'equal digests');
  });
});
