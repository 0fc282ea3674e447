import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { ErrorCodes } from '@scaleout/core';
import { FrameCodec } from '../src/frame.js';
import { InProcessTransport } from '../src/in-process-transport.js';
import { MessageType } from '../src/messages.js';
import { ReplicatedStore } from '../src/replicated-store.js';

// The MAC is checked before anything a frame says about itself: a frame that claims this node's
// own id, but that nobody with the secret signed, is a forgery to count, never a sign that
// another process shares the id (a config error an app may treat as fatal).

describe('FrameChannel: the MAC before any other check', () => {
  let store: ReplicatedStore;
  const errors: Error[] = [];
  beforeEach(async () => {
    errors.length = 0;
    store = new ReplicatedStore({ nodeId: 'me', secret: 'the-secret', transport: new InProcessTransport({ bus: randomUUID() }), discoveryWait: 20 });
    store.on('error', (e: Error) => errors.push(e));
    await store.start();
  });
  afterEach(() => store.close());

  const frame = (secret: string, header: Partial<Parameters<FrameCodec['encode']>[0]> = {}) =>
    new FrameCodec([secret]).encode({ type: MessageType.WRITES, origin: 'me', incarnation: 42, seq: 1, prev: 0, to: '', ts: Date.now(), ...header }, Buffer.alloc(8));

  it("counts unsigned frames under the receiver's own id as forged and raises no duplicate-nodeId error", async () => {
    const forged = [frame('not-the-secret'), frame('not-the-secret', { to: 'me' }), frame('not-the-secret', { to: 'someone-else' })];
    const zeroed = frame('the-secret');
    zeroed.fill(0, zeroed.length - 32); // the MAC wiped
    for (const f of [...forged, zeroed]) store.receive(f);
    await new Promise((r) => setImmediate(r));
    expect(errors).to.deep.equal([]);
    expect(store.stats().dropped.forged).to.equal(4);
  });

  it('still reports a genuine frame from another process under the same id', async () => {
    store.receive(frame('the-secret'));
    await new Promise((r) => setImmediate(r));
    expect(errors.map((e) => (e as { code?: string }).code)).to.deep.equal([ErrorCodes.CONFIG]);
    expect(store.stats().dropped.forged).to.equal(0);
  });
});
