import { expect } from 'chai';
import fc from 'fast-check';
import { FrameCodec, MIN_FRAME_BYTES, type FrameHeader } from '../src/frame.js';
import { WireError } from '../src/wire.js';

const header = (over: Partial<FrameHeader> = {}): FrameHeader => ({ type: 1, origin: 'node-a', incarnation: 42, seq: 7, prev: 6, to: '', ts: 1_700_000_000_000, ...over });

describe('FrameCodec', () => {
  it('round-trips a header and body and verifies the MAC', () => {
    const codec = new FrameCodec(['s1']);
    const frame = codec.encode(header({ to: 'node-b' }), Buffer.from('body'));
    const parsed = codec.parse(frame);
    expect(parsed.header).to.deep.equal(header({ to: 'node-b' }));
    expect(frame.subarray(parsed.bodyStart, parsed.bodyEnd).toString()).to.equal('body');
    expect(codec.verify(parsed)).to.equal(true);
  });

  it('verifies with an older secret after rotation, and signs with the newest', () => {
    const old = new FrameCodec(['old']);
    const rotated = new FrameCodec(['new', 'old']);
    expect(rotated.verify(rotated.parse(old.encode(header(), Buffer.alloc(0))))).to.equal(true);
    expect(old.verify(old.parse(rotated.encode(header(), Buffer.alloc(0))))).to.equal(false);
  });

  it('derives its key under its own label: a plain HMAC with the secret does not verify', async () => {
    const { createHmac } = await import('node:crypto');
    const codec = new FrameCodec(['s1']);
    const frame = codec.encode(header(), Buffer.from('x'));
    const unsigned = frame.subarray(0, frame.length - 32);
    const naive = Buffer.concat([unsigned, createHmac('sha256', 's1').update(unsigned).digest()]);
    expect(codec.verify(codec.parse(naive))).to.equal(false);
  });

  it('refuses every single-bit change', () => {
    const codec = new FrameCodec(['s1']);
    const frame = codec.encode(header(), Buffer.from('some body'));
    for (let i = 8; i < frame.length; i++) {
      const bad = Buffer.from(frame);
      bad[i] = bad[i]! ^ 1;
      let ok = false;
      try {
        ok = codec.verify(codec.parse(bad));
      } catch (err) {
        expect(err).to.be.instanceOf(WireError);
      }
      expect(ok, `bit flip at ${i}`).to.equal(false);
    }
  });

  it('throws only WireError on garbage, never anything else', () => {
    const codec = new FrameCodec(['s1']);
    expect(() => codec.parse(Buffer.alloc(MIN_FRAME_BYTES - 1))).to.throw(WireError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          const parsed = codec.parse(bytes);
          expect(codec.verify(parsed)).to.equal(false);
        } catch (err) {
          expect(err).to.be.instanceOf(WireError);
        }
      }),
    );
  });
});
