import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { createStrategy, ErrorCodes } from '@scaleout/core';
import { FrameCodec } from '../src/frame.js';
import { InProcessTransport } from '../src/in-process-transport.js';
import { MessageType } from '../src/messages.js';
import { ReplicatedStore } from '../src/replicated-store.js';
import { closeNodes, mutePeer, SECRET, startNodes, type TestNode } from './nodes.js';

describe('ReplicatedStore refuses bad input', () => {
  let nodes: TestNode[] = [];
  afterEach(async () => {
    await closeNodes(nodes);
    nodes = [];
  });

  it('refuses bad options with coded errors naming the field', () => {
    const transport = new InProcessTransport();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ nodeId: '', secret: 's', transport }, 'nodeId'],
      [{ nodeId: 'has space', secret: 's', transport }, 'nodeId'],
      [{ nodeId: 'a', secret: [], transport }, 'secret'],
      [{ nodeId: 'a', secret: [''], transport }, 'secret.0'],
      [{ nodeId: 'a', secret: '', transport }, 'secret'],
      [{ nodeId: 'a', secret: 's', transport, maxMessageBytes: 1024 * 1024 * 1024 }, 'maxMessageBytes'],
      [{ nodeId: 'a', secret: 's', transport, replayWindow: 10 }, 'replayWindow'],
      [{ nodeId: 'a', secret: 's', transport, minTombstoneTtl: '1s', expiryResolution: 0 }, 'expiryResolution'],
      [{ nodeId: 'a', secret: 's', transport, readyTimeout: '1s', ready: 1 }, 'ready'],
      [{ nodeId: 'a', secret: 's', transport: {} }, 'transport'],
      [{ nodeId: 'a', secret: 's', transport, maxMessageBytes: 10 }, 'maxMessageBytes'],
      [{ nodeId: 'a', secret: 's', transport, antiEntropyInterval: 1 }, 'antiEntropyInterval'],
      [{ nodeId: 'a', secret: 's', transport, readyTimeout: 'soon' }, 'readyTimeout'],
    ];
    for (const [options, field] of cases) {
      expect(() => new ReplicatedStore(options as never), field).to.throw().with.property('field', field);
    }
    expect(() => new InProcessTransport({ dropRate: 2 })).to.throw().with.property('field', 'dropRate');
    expect(() => new InProcessTransport({ dropRate: 2 })).to.throw().with.property('code', ErrorCodes.CONFIG);
    expect(() => new InProcessTransport({ drop: 0.5 } as never)).to.throw().with.property('field', 'drop');
    expect(() => new InProcessTransport({ bus: '' })).to.throw().with.property('field', 'bus');
  });

  it('refuses bad ids, TTLs, values and sessions too large for a frame', async () => {
    nodes = await startNodes(1, { maxMessageBytes: 32 * 1024 });
    const s = nodes[0]!.store;
    await expect(s.get('')).to.be.rejectedWith(/session id/);
    await expect(s.set('x'.repeat(300), {}, 1000)).to.be.rejectedWith(/session id/);
    await expect(s.set('a', {}, -1)).to.be.rejectedWith(/ttlMs/);
    await expect(s.set('a', [] as never, 1000)).to.be.rejectedWith(/plain object/);
    await expect(s.set('a', { big: 'x'.repeat(40 * 1024) }, 1000)).to.be.rejectedWith(/maxMessageBytes/);
    expect(await s.size()).to.equal(0);
  });

  it('drops and counts garbage, oversized, forged, replayed and unknown frames fed to it, and never throws', async () => {
    nodes = await startNodes(2);
    const [a, b] = nodes.map((n) => n.store) as [ReplicatedStore, ReplicatedStore];
    const frames: Buffer[] = [];
    nodes[1]!.transport.on('message', (m: Buffer) => frames.push(m));
    await a.set('s', { v: 1 }, 60_000);
    await new Promise((r) => setTimeout(r, 20));
    const genuine = frames.at(-1)!;
    b.receive(Buffer.from('garbage'));
    b.receive(Buffer.alloc(5 * 1024 * 1024));
    const tampered = Buffer.from(genuine);
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 0xff;
    b.receive(tampered);
    b.receive(genuine);
    b.receive(new FrameCodec(SECRET).encode({ type: 200, origin: 'other', incarnation: 1, seq: 1, prev: 0, to: '', ts: Date.now() }, Buffer.alloc(0)));
    b.receive(new FrameCodec(SECRET).encode({ type: MessageType.WRITES, origin: 'old', incarnation: 1, seq: 1, prev: 0, to: '', ts: Date.now() - 3_600_000 }, Buffer.alloc(8)));
    // Authentic but with a body that lies about its counts.
    b.receive(new FrameCodec(SECRET).encode({ type: MessageType.WRITES, origin: 'liar', incarnation: 1, seq: 1, prev: 0, to: '', ts: Date.now() }, Buffer.from([0xff, 0xff, 0xff, 0xff])));
    expect(b.stats().dropped).to.deep.equal({ malformed: 2, oversized: 1, forged: 1, replayed: 2, unknownType: 1 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        b.receive(bytes);
      }),
    );
    // What a misbehaving transport might emit instead of bytes.
    for (const junk of [undefined, null, 'text', 42, {}, []]) b.receive(junk as never);
    expect(b.stats().dropped.malformed).to.be.at.least(8);
    expect(await b.get('s')).to.deep.equal({ v: 1 });
  });
});

describe('ReplicatedStore misuse', () => {
  it('reports a second process using the same nodeId', async () => {
    const bus = randomUUID();
    const one = new ReplicatedStore({ nodeId: 'same', secret: 's', transport: new InProcessTransport({ bus }), discoveryWait: 50 });
    const errors: Error[] = [];
    one.on('error', (e: Error) => errors.push(e));
    await one.start();
    const two = new ReplicatedStore({ nodeId: 'same', secret: 's', transport: new InProcessTransport({ bus }), discoveryWait: 50 });
    two.on('error', () => undefined);
    await two.start();
    await two.set('x', { v: 1 }, 60_000);
    await new Promise((r) => setTimeout(r, 20));
    await Promise.all([one.close(), two.close()]);
    expect(errors.map((e) => (e as { code?: string }).code)).to.deep.equal([ErrorCodes.CONFIG]);
  });

  it('turns a transport that throws on publish into a coded rejection, never a crash', async () => {
    const transport = new InProcessTransport({ bus: randomUUID() });
    const store = new ReplicatedStore({ nodeId: 'n', secret: 's', transport, discoveryWait: 20 });
    await store.start();
    transport.publish = () => {
      throw new Error('socket gone');
    };
    await expect(store.set('x', { v: 1 }, 60_000)).to.be.rejected.and.eventually.have.property('code', ErrorCodes.STORE_UNAVAILABLE);
    expect(store.stats().publishFailures).to.equal(1);
    expect(await store.get('x')).to.deep.equal({ v: 1 });
    await store.close();
  });

  it('gives up on a peer that stalls mid-join and copies another one', async function () {
    this.timeout(15_000);
    const bus = randomUUID();
    const goodTransport = new InProcessTransport({ bus });
    const good = new ReplicatedStore({ nodeId: 'good', secret: 's', transport: goodTransport, discoveryWait: 50 });
    await good.start();
    await good.set('kept', { v: 1 }, 60_000);
    const mute = await mutePeer(bus, 's');
    // The good node misses the HELLO, so the mute one is picked first.
    goodTransport.disconnect();
    const joiner = new ReplicatedStore({ nodeId: 'joiner', secret: 's', transport: new InProcessTransport({ bus }), discoveryWait: 300, readyTimeout: 10_000 });
    const starting = joiner.start();
    await new Promise((r) => setTimeout(r, 150));
    goodTransport.reconnect();
    await starting;
    expect(joiner.stats().snapshotRestarts).to.be.at.least(1);
    expect(joiner.stats().snapshotsReceived).to.equal(1);
    expect(await joiner.get('kept')).to.deep.equal({ v: 1 });
    await Promise.all([good.close(), joiner.close(), mute.close()]);
  });

  it('rejects a pending start at once when closed', async () => {
    const bus = randomUUID();
    const mute = await mutePeer(bus, 's');
    const store = new ReplicatedStore({ nodeId: 'joiner', secret: 's', transport: new InProcessTransport({ bus }), discoveryWait: 50, readyTimeout: 20_000 });
    const starting = store.start();
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await store.close();
    await expect(starting).to.be.rejected.and.eventually.have.property('code', ErrorCodes.STORE_CLOSED);
    expect(Date.now() - t0).to.be.below(1000);
    await store.close();
    await mute.close();
  });
});

describe('createReplicatedStore through createStrategy', () => {
  it('is ready at once as the first node of a bus, and refuses a missing cluster section', async () => {
    const strategy = await createStrategy({ strategy: 'cluster', nodeId: 'n1', secret: 's', cluster: { transport: { type: 'in-process', bus: randomUUID() }, discoveryWait: 50 } });
    expect(strategy.kind).to.equal('cluster');
    expect((strategy.store as ReplicatedStore).ready).to.equal(true);
    await strategy.close();
    await strategy.close();
    await expect(createStrategy({ strategy: 'cluster', nodeId: 'n1', secret: 's' })).to.be.rejectedWith(/cluster/);
  });

  it('fails with ERR_SCALEOUT_NOT_READY when the snapshot does not come within readyTimeout', async () => {
    const bus = randomUUID();
    const mute = await mutePeer(bus, 's');
    const started = createStrategy({ strategy: 'cluster', nodeId: 'joiner', secret: 's', cluster: { transport: { type: 'in-process', bus }, readyTimeout: '400ms', discoveryWait: 100 } });
    await expect(started).to.be.rejected.and.eventually.have.property('code', ErrorCodes.NOT_READY);
    await expect(started).to.be.rejectedWith(/readyTimeout/);
    expect(InProcessTransport.members(bus)).to.equal(1);
    await mute.close();
  });
});
