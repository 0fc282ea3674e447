import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { ErrorCodes, parseConfig, TransportError } from '@scaleout/core';
import { DEFAULT_REDIS_TRANSPORT_OPTIONS, RedisTransport, createTransport as createRedisTransport } from '@scaleout/redis';
import { DEFAULT_HAZELCAST_TRANSPORT_OPTIONS, HazelcastTransport, createTransport as createHazelcastTransport } from '@scaleout/hazelcast';
import { eventually, freePort, type RedisServer, startRedis } from '@scaleout/harness';

const context = (nodeId: string) => ({ nodeId, secret: ['s'], config: parseConfig({ secret: 's' }) });

/** The error `fn` throws; fails the test when it throws nothing. */
function captured(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal, got none');
}

describe('cluster transports', function () {
  this.timeout(30_000);

  describe('RedisTransport', function () {
    let redis: RedisServer;
    const open: RedisTransport[] = [];
    before(async () => {
      redis = await startRedis();
    });
    after(async () => {
      await Promise.all(open.map((t) => t.close()));
      await redis?.stop();
    });
    const transport = (o: ConstructorParameters<typeof RedisTransport>[0]) => {
      const t = new RedisTransport(o);
      open.push(t);
      return t;
    };

    it('refuses bad options with coded errors naming the field', () => {
      for (const [o, field] of [
        [{ url: 'http://x' }, 'url'],
        [{ channel: '' }, 'channel'],
        [{ channel: 'x'.repeat(129) }, 'channel'],
        [{ publishTimeout: -1 }, 'publishTimeout'],
        [{ publishTimeout: 'soon' }, 'publishTimeout'],
        [{ nodeId: '' }, 'nodeId'],
        [{ username: 7 }, 'username'],
        [{ password: ['x'] }, 'password'],
        [{ chanel: 'x' }, 'chanel'],
      ] as const) {
        expect(() => new RedisTransport(o as never), field).to.throw().with.property('field', field);
        expect(() => new RedisTransport(o as never), field).to.throw().with.property('code', ErrorCodes.CONFIG);
      }
    });

    it('takes durations as the config writes them, and defaults from its schema', () => {
      expect(DEFAULT_REDIS_TRANSPORT_OPTIONS).to.deep.equal({ url: 'redis://127.0.0.1:6379', channel: 'scaleout', publishTimeout: 2000 });
      expect(new RedisTransport({ publishTimeout: '500ms' }).channel).to.equal('scaleout');
    });

    it('refuses a bad field in the constructor and in cluster.transport with the same error, the config naming its path', async () => {
      for (const [o, field] of [
        [{ url: 'http://x' }, 'url'],
        [{ channel: '' }, 'channel'],
        [{ username: 7 }, 'username'],
        [{ chanel: 'x' }, 'chanel'],
      ] as const) {
        const constructed = captured(() => new RedisTransport(o as never));
        const configured = await createRedisTransport({ type: 'redis', url: redis.url, ...o } as never, context('n')).then(() => undefined, (e: unknown) => e);
        expect(configured, field).to.include({ code: ErrorCodes.CONFIG, field: `cluster.transport.${field}` });
        expect((configured as Error).message, field).to.equal((constructed as Error).message.replaceAll(`config ${field}`, `config cluster.transport.${field}`));
      }
    });

    it('fails to start against a dead port with ERR_SCALEOUT_TRANSPORT, and refuses to publish before start or after close', async () => {
      const dead = transport({ url: `redis://127.0.0.1:${await freePort()}` });
      await expect(dead.publish(Buffer.from('x'))).to.be.rejected.and.eventually.have.property('code', ErrorCodes.TRANSPORT);
      await expect(dead.start()).to.be.rejected.and.eventually.have.property('code', ErrorCodes.TRANSPORT);
      await dead.close();
      await dead.close();
      await expect(dead.start()).to.be.rejected.and.eventually.have.property('code', ErrorCodes.TRANSPORT);
    });

    it('names an unreachable server under core\'s redaction rule, never its password', async () => {
      const port = await freePort();
      const t = transport({ url: `redis://app:hunter2@127.0.0.1:${port}` });
      const err = await t.start().then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(TransportError).and.include({ code: ErrorCodes.TRANSPORT, name: 'TransportError' });
      expect((err as Error).message).to.include(`redis://[redacted]@127.0.0.1:${port}`).and.not.include('hunter2');
    });

    it('delivers broadcasts to all and addressed messages to their node only, and reports down/up around a killed subscriber', async () => {
      const channel = `t-${randomUUID()}`;
      const [a, b, c] = ['a', 'b', 'c'].map((nodeId) => transport({ url: redis.url, channel, nodeId })) as [RedisTransport, RedisTransport, RedisTransport];
      await Promise.all([a.start(), b.start(), c.start()]);
      const got: Record<string, string[]> = { a: [], b: [], c: [] };
      for (const [name, t] of Object.entries({ a, b, c })) t.on('message', (m: Buffer) => got[name]!.push(m.toString()));
      await a.publish(Buffer.from('all'));
      await a.publish(Buffer.from('for-b'), 'b');
      // Each subscriber has its own socket: wait for all three, whichever the event loop reads first.
      await eventually(() => got.a!.length === 1 && got.b!.length === 2 && got.c!.length === 1, 3000, 'deliveries');
      expect(got.c).to.deep.equal(['all']);
      expect(got.a).to.deep.equal(['all']); // Redis echoes a broadcast to its publisher; the store filters it
      const events: string[] = [];
      b.on('down', () => events.push('down'));
      b.on('up', () => events.push('up'));
      await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await eventually(() => events.join() === 'down,up', 5000, 'down then up');
      await a.publish(Buffer.from('after'));
      await eventually(() => got.b!.includes('after'), 3000, 'delivery after the reconnect');
    });

    it('closes promptly while Redis is down, and publish fails with a coded error within its timeout', async function () {
      const own = await startRedis();
      const t = new RedisTransport({ url: own.url, channel: 'x', nodeId: 'n', publishTimeout: 500 });
      await t.start();
      await own.kill('SIGKILL');
      await expect(t.publish(Buffer.from('x'))).to.be.rejected.and.eventually.have.property('code', ErrorCodes.TRANSPORT);
      const t0 = Date.now();
      await t.close();
      expect(Date.now() - t0).to.be.below(2000);
      await own.stop();
    });

    it('createTransport takes its node from the plugin context and refuses other transport types', async () => {
      const t = (await createRedisTransport({ type: 'redis', url: redis.url, channel: 'x' }, context('n1'))) as RedisTransport;
      expect(t.nodeId).to.equal('n1');
      await t.close();
      await expect(createRedisTransport({ type: 'in-process', bus: 'x' } as never, context('n1'))).to.be.rejected.and.eventually.include({ code: ErrorCodes.CONFIG, field: 'cluster.transport.type' });
    });
  });

  describe('HazelcastTransport', function () {
    it('refuses bad options with coded errors naming the field', () => {
      for (const [o, field] of [
        [undefined, 'members'],
        [{ members: [] }, 'members'],
        [{ members: ['no-port'] }, 'members.0'],
        [{ members: ['127.0.0.1:5701'], topic: '' }, 'topic'],
        [{ members: ['127.0.0.1:5701'], topic: 'x'.repeat(129) }, 'topic'],
        [{ members: ['127.0.0.1:5701'], clusterName: '' }, 'clusterName'],
        [{ members: ['127.0.0.1:5701'], connectTimeout: 0 }, 'connectTimeout'],
        [{ members: ['127.0.0.1:5701'], username: 7 }, 'username'],
        [{ members: ['127.0.0.1:5701'], topics: 'x' }, 'topics'],
      ] as const) {
        expect(() => new HazelcastTransport(o as never), field).to.throw().with.property('field', field);
        expect(() => new HazelcastTransport(o as never), field).to.throw().with.property('code', ErrorCodes.CONFIG);
      }
    });

    it('refuses a bad field in the constructor and in cluster.transport with the same error, the config naming its path', async () => {
      expect(DEFAULT_HAZELCAST_TRANSPORT_OPTIONS).to.deep.equal({ clusterName: 'dev', topic: 'scaleout', connectTimeout: 10_000 });
      for (const [o, field] of [
        [{ members: ['no-port'] }, 'members.0'],
        [{ members: ['127.0.0.1:5701'], topic: '' }, 'topic'],
        [{ members: ['127.0.0.1:5701'], clusterName: '' }, 'clusterName'],
      ] as const) {
        const constructed = captured(() => new HazelcastTransport(o as never));
        const configured = await createHazelcastTransport({ type: 'hazelcast', ...o } as never, context('n')).then(() => undefined, (e: unknown) => e);
        expect(configured, field).to.include({ code: ErrorCodes.CONFIG, field: `cluster.transport.${field}` });
        expect((configured as Error).message, field).to.equal((constructed as Error).message.replaceAll(`config ${field}`, `config cluster.transport.${field}`));
      }
    });

    it('fails to start with ERR_SCALEOUT_TRANSPORT when no member answers, and refuses other transport types', async () => {
      const t = new HazelcastTransport({ members: [`127.0.0.1:${await freePort()}`], connectTimeout: 1000 });
      await expect(t.publish(Buffer.from('x'))).to.be.rejected.and.eventually.have.property('code', ErrorCodes.TRANSPORT);
      await expect(t.start()).to.be.rejected.and.eventually.be.instanceOf(TransportError).and.include({ code: ErrorCodes.TRANSPORT });
      await t.close();
      await t.close();
      await expect(createHazelcastTransport({ type: 'redis', url: 'redis://x:1', channel: 'x' } as never, context('n1'))).to.be.rejected.and.eventually.include({ code: ErrorCodes.CONFIG, field: 'cluster.transport.type' });
    });
  });
});
