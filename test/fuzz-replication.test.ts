import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { FrameCodec, InProcessTransport, MessageType, ReplicatedStore, type FrameHeader } from '@scaleout/cluster';
import { writeEntry, writeTouch } from '../packages/cluster/src/messages.js';
import { WireError, Writer } from '../packages/cluster/src/wire.js';

// Replication frames arrive from the pub/sub channel, where anyone with access to Redis (or
// Hazelcast) can publish. A frame that is not authentic is dropped and counted, never applied;
// an authentic frame with a garbled body is dropped too; nothing a peer sends makes the node throw.
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const SECRET = ['replication-secret-new', 'replication-secret-old'];
const VICTIM = 'victim';
const PEER = 'peer-1';
const TYPES = Object.values(MessageType);

type Entry = { id: string; t: number; c: number; n: string; exp: number; json: string | null };

/** A WRITES body as a peer builds it. */
function writesBody(entries: Entry[], touches: Entry[] = []): Buffer {
  const w = new Writer(256);
  w.u32(entries.length);
  for (const e of entries) writeEntry(w, e.id, e);
  w.u32(touches.length);
  for (const e of touches) writeTouch(w, e.id, e);
  return w.finish();
}

const entryArb = fc.record({
  id: fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ maxLength: 300 })),
  t: fc.oneof(fc.constant(Date.now()), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.nat()),
  c: fc.nat({ max: 0xffffffff }),
  n: fc.string({ maxLength: 20 }),
  exp: fc.oneof(fc.constant(Date.now() + 60_000), fc.double({ noNaN: true, noDefaultInfinity: true })),
  json: fc.oneof(fc.constant(null), fc.jsonValue().map((v) => JSON.stringify(v)), fc.string({ maxLength: 80 })),
});

/** One edit of a byte string: flip a bit, change, insert or delete a byte, cut or extend. */
function mutateBytes(bytes: Buffer) {
  const at = fc.nat({ max: bytes.length - 1 });
  return fc
    .oneof(
      fc.tuple(at, fc.integer({ min: 0, max: 7 })).map(([i, b]) => { const out = Buffer.from(bytes); out[i]! ^= 1 << b; return out; }),
      fc.tuple(at, fc.integer({ min: 0, max: 255 })).map(([i, v]) => { const out = Buffer.from(bytes); out[i] = v; return out; }),
      fc.tuple(at, fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([i, ins]) => Buffer.concat([bytes.subarray(0, i), ins, bytes.subarray(i)])),
      at.map((i) => Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)])),
      at.map((i) => bytes.subarray(0, i)),
      fc.uint8Array({ minLength: 1, maxLength: 8 }).map((tail) => Buffer.concat([bytes, tail])),
    )
    .filter((m) => !m.equals(bytes));
}

/** Whether `bytes` parse and verify; a parse may only fail with WireError. */
function verifies(codec: FrameCodec, bytes: Uint8Array): boolean {
  let parsed;
  try {
    parsed = codec.parse(bytes);
  } catch (err) {
    expect(err).to.be.instanceOf(WireError);
    return false;
  }
  return codec.verify(parsed);
}

describe('fuzz: replication frames', function () {
  this.timeout(60_000);

  describe('FrameCodec (pure, FUZZ_RUNS runs each)', function () {
    const codec = new FrameCodec(SECRET);
    const header = (h: Partial<FrameHeader> = {}): FrameHeader => ({ type: MessageType.WRITES, origin: PEER, incarnation: 1, seq: 1, prev: 0, to: '', ts: Date.now(), ...h });

    it('parse throws only WireError on arbitrary bytes, and nothing arbitrary verifies', function () {
      const prefixed = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.concat([Buffer.from([0x53, 1]), b]));
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)), prefixed), (bytes) => {
          expect(verifies(codec, bytes)).to.equal(false);
        }),
        { numRuns: RUNS },
      );
    });

    it('verifies what it encoded under any listed secret, and refuses every one-edit mutation of it', function () {
      const signed = codec.encode(header(), writesBody([{ id: 's1', t: Date.now(), c: 0, n: PEER, exp: Date.now() + 60_000, json: '{"user":"alice"}' }]));
      expect(codec.verify(codec.parse(signed))).to.equal(true);
      expect(new FrameCodec([SECRET[0]!]).verify(new FrameCodec([SECRET[0]!]).parse(signed))).to.equal(true);
      expect(codec.verify(codec.parse(new FrameCodec([SECRET[1]!]).encode(header(), Buffer.alloc(4))))).to.equal(true);
      fc.assert(
        fc.property(mutateBytes(signed), (forged) => {
          expect(verifies(codec, forged), forged.toString('hex')).to.equal(false);
        }),
        { numRuns: RUNS },
      );
    });

    it('refuses frames signed with an unlisted secret', function () {
      fc.assert(
        fc.property(fc.string({ minLength: 1, maxLength: 30 }), fc.constantFrom(...TYPES), fc.uint8Array({ maxLength: 100 }), (secret, type, body) => {
          fc.pre(!SECRET.includes(secret));
          const frame = new FrameCodec([secret]).encode(header({ type }), body);
          expect(codec.verify(codec.parse(frame))).to.equal(false);
        }),
        { numRuns: RUNS },
      );
    });
  });

  describe('ReplicatedStore.receive (FUZZ_RUNS runs each, one in-process node)', function () {
    let store: ReplicatedStore;
    const errors: unknown[] = [];
    const peer = new FrameCodec(SECRET);
    let seq = 0;
    let lastBroadcast = 0;
    const incarnation = Date.now() * 1000;

    /** The next frame of a well-behaved peer's stream (counters in order, so no gap or replay). */
    function peerFrame(type: number, body: Uint8Array, codec = peer, to = ''): Buffer {
      const s = ++seq;
      const prev = lastBroadcast;
      if (to === '') lastBroadcast = s;
      return codec.encode({ type, origin: PEER, incarnation, seq: s, prev, to, ts: Date.now() }, body);
    }

    before(async function () {
      const transport = new InProcessTransport({ bus: `fuzz-${randomUUID()}` });
      store = new ReplicatedStore({ nodeId: VICTIM, secret: SECRET, transport, discoveryWait: 50, antiEntropyInterval: 60_000 });
      store.on('error', (err) => errors.push(err));
      await store.start();
    });
    after(async function () {
      await store?.close();
    });
    afterEach(function () {
      expect(errors, 'errors the node reported').to.deep.equal([]);
    });

    it('never applies or throws on arbitrary bytes', function () {
      const digest = store.digest();
      const before = store.stats();
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.concat([Buffer.from([0x53, 1, 1, 0]), b]))), (bytes) => {
          store.receive(bytes);
        }),
        { numRuns: RUNS },
      );
      const after = store.stats();
      expect(after.applied).to.equal(before.applied);
      expect(store.digest()).to.equal(digest);
      expect(after.dropped.malformed + after.dropped.forged - before.dropped.malformed - before.dropped.forged).to.be.at.least(RUNS * 0.9);
    });

    it('never throws on whatever a transport hands over, bytes or not', function () {
      const digest = store.digest();
      fc.assert(
        fc.property(fc.anything({ withTypedArray: true, withMap: true, withSet: true }), (value) => {
          store.receive(value as Uint8Array);
        }),
        { numRuns: RUNS },
      );
      expect(store.digest()).to.equal(digest);
    });

    it('never applies a mutated copy of an authentic frame, nor a frame under an unlisted secret', async function () {
      const digest = store.digest();
      const applied = store.stats().applied;
      const write = { id: 'forged-session', t: Date.now(), c: 0, n: PEER, exp: Date.now() + 60_000, json: '{"user":"mallory","admin":true}' };
      const authentic = peer.encode({ type: MessageType.WRITES, origin: PEER, incarnation: incarnation - 1, seq: 1, prev: 0, to: '', ts: Date.now() }, writesBody([write]));
      fc.assert(
        fc.property(fc.oneof(mutateBytes(authentic), fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !SECRET.includes(s)).map((s) => peerFrame(MessageType.WRITES, writesBody([write]), new FrameCodec([s])))), (forged) => {
          store.receive(forged);
        }),
        { numRuns: RUNS },
      );
      expect(store.stats().applied).to.equal(applied);
      expect(store.digest()).to.equal(digest);
      expect(await store.get('forged-session')).to.equal(undefined);
    });

    it('drops an authentic frame of any type with a garbled body without throwing, and keeps serving', async function () {
      const bodyArb = fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.array(entryArb, { maxLength: 3 }).map((e) => writesBody(e)),
        fc.tuple(fc.array(entryArb, { minLength: 1, maxLength: 3 }), fc.nat()).map(([e, cut]) => { const b = writesBody(e); return b.subarray(0, cut % b.length); }),
        fc.tuple(fc.nat({ max: 0xffffffff }), fc.uint8Array({ maxLength: 40 })).map(([n, rest]) => { const w = new Writer(8); w.u32(n); w.bytes(rest); return w.finish(); }),
      );
      await fc.assert(
        fc.asyncProperty(fc.oneof({ arbitrary: fc.constant(MessageType.WRITES), weight: 3 }, fc.constantFrom(...TYPES, 0, 11, 255)), bodyArb, fc.boolean(), async (type, body, directed) => {
          store.receive(peerFrame(type, body, peer, directed ? VICTIM : ''));
          // Whatever an authentic peer wrote, reading it gives a session object or nothing.
          for await (const id of store.ids()) {
            const s = await store.get(id);
            expect(s === undefined || (typeof s === 'object' && s !== null && !Array.isArray(s)), id).to.equal(true);
          }
        }),
        { numRuns: RUNS },
      );
      await store.set('still-works', { ok: true }, 60_000);
      expect(await store.get('still-works')).to.deep.equal({ ok: true });
    });
  });
});
