import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { FrameCodec, MessageType, ReplicatedStore } from '@scaleout/cluster';
import { RedisTransport } from '@scaleout/redis';
import { eventually, type RedisServer, startRedis } from '@scaleout/harness';

const SECRET = ['bad-input-newest', 'bad-input-older'];

describe('cluster strategy: bad replication frames on the Redis channel are dropped and counted', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let raw: Redis;
  let tap: Redis;
  const captured: Buffer[] = [];
  const stores: ReplicatedStore[] = [];
  const channel = `bad-${randomUUID()}`;

  before(async function () {
    redis = await startRedis();
    raw = new Redis(redis.url);
    tap = new Redis(redis.url);
    await tap.subscribe(channel);
    tap.on('messageBuffer', (_c: Buffer, m: Buffer) => captured.push(m));
    for (const nodeId of ['node-a', 'node-b']) {
      const store = new ReplicatedStore({ nodeId, secret: SECRET, transport: new RedisTransport({ url: redis.url, channel }), discoveryWait: 200, antiEntropyInterval: 60_000 });
      await store.start();
      stores.push(store);
    }
  });
  after(async function () {
    await Promise.all(stores.map((s) => s.close()));
    raw?.disconnect();
    tap?.disconnect();
    await redis?.stop();
  });

  const b = () => stores[1]!;
  // The last genuine broadcast write of node A: what B has accepted, and what an attacker can record.
  const genuine = () => {
    const codec = new FrameCodec(SECRET);
    const frame = captured.findLast((m) => {
      try {
        const parsed = codec.parse(m);
        const h = parsed.header;
        return h.origin === 'node-a' && h.to === '' && h.type === MessageType.WRITES && codec.verify(parsed);
      } catch {
        return false; // garbage this suite published itself
      }
    });
    if (!frame) throw new Error('no frame of node-a captured');
    return frame;
  };
  const dropped = () => b().stats().dropped;

  it('applies a genuine write (the baseline the attacks replay and tamper with)', async function () {
    captured.length = 0;
    await stores[0]!.set('victim', { role: 'user' }, 60_000);
    await eventually(async () => (await b().get('victim'))?.role === 'user', 3000);
    expect(captured.length).to.be.above(0);
  });

  const cases: Array<[string, () => Buffer, keyof ReturnType<typeof dropped>]> = [
    ['garbage bytes', () => Buffer.from('not a frame at all, just bytes \u0000\u00ff'.repeat(10)), 'malformed'],
    ['a message 10 MB long', () => Buffer.alloc(10 * 1024 * 1024, 7), 'oversized'],
    ['a forged MAC (one body byte changed)', () => {
      const f = Buffer.from(genuine());
      f[f.length - 40] = f[f.length - 40]! ^ 1;
      return f;
    }, 'forged'],
    ['a frame signed with a wrong secret', () => new FrameCodec(['not-the-secret']).encode({ type: MessageType.WRITES, origin: 'intruder', incarnation: 1, seq: 1, prev: 0, to: '', ts: Date.now() }, Buffer.alloc(8)), 'forged'],
    ['a truncated frame', () => genuine().subarray(0, genuine().length - 9), 'forged'],
    ['a replayed genuine frame', () => genuine(), 'replayed'],
    ['an unknown message type', () => new FrameCodec(SECRET).encode({ type: 99, origin: 'future-node', incarnation: 1, seq: 1, prev: 0, to: '', ts: Date.now() }, Buffer.alloc(4)), 'unknownType'],
  ];
  for (const [what, frame, reason] of cases) {
    it(`drops ${what} and counts it as ${reason}`, async function () {
      const before = dropped()[reason];
      await raw.publish(channel, frame());
      await eventually(() => dropped()[reason] === before + 1, 3000, `${reason} counted: ${JSON.stringify(b().stats())}`);
      expect(await b().get('victim')).to.deep.equal({ role: 'user' });
    });
  }

  it('still replicates after all of it', async function () {
    await stores[0]!.set('after', { ok: true }, 60_000);
    await eventually(async () => (await b().get('after'))?.ok === true, 3000);
    expect(b().stats().applied).to.be.above(0);
  });
});
