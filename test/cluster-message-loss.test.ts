import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { ReplicatedStore } from '@scaleout/cluster';
import { RedisTransport } from '@scaleout/redis';
import { eventually, type RedisServer, startRedis } from '@scaleout/harness';

describe('cluster strategy: message loss on Redis pub/sub is detected and repaired', function () {
  this.timeout(60_000);
  const AE_INTERVAL = 1000;
  let redis: RedisServer;
  const stores: ReplicatedStore[] = [];
  const transports: RedisTransport[] = [];

  before(async function () {
    redis = await startRedis();
    const channel = `loss-${randomUUID()}`;
    for (const nodeId of ['node-a', 'node-b', 'node-c']) {
      const transport = new RedisTransport({ url: redis.url, channel, nodeId });
      const store = new ReplicatedStore({ nodeId, secret: 'loss-secret', transport, discoveryWait: 200, antiEntropyInterval: AE_INTERVAL });
      await store.start();
      transports.push(transport);
      stores.push(store);
    }
  });
  after(async function () {
    await Promise.all(stores.map((s) => s.close()));
    await redis?.stop();
  });

  // Redis pub/sub loses messages when a subscriber's connection goes (killed, or cut by Redis's
  // `client-output-buffer-limit pubsub`): every frame published until it has subscribed again.
  it('finds the gaps left by killed subscriber connections, and converges within the anti-entropy interval', async function () {
    let down = 0;
    let up = 0;
    for (const t of transports) {
      t.on('down', () => down++);
      t.on('up', () => up++);
    }
    for (let round = 0; round < 40; round++) {
      if (round % 10 === 5) {
        await eventually(() => up === down, 5000, 'subscribers back from the last kill');
        const killed = Number(await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub'));
        expect(killed).to.equal(3);
      }
      await Promise.all(stores.map((s, k) => s.set(`s${(round * 13 + k * 7) % 300}`, { round, k, by: s.nodeId }, 60_000)));
      await new Promise((r) => setTimeout(r, 5));
    }
    await eventually(() => up === 12, 5000, 'subscribers back after each of the 4 kills');
    const stoppedAt = Date.now();
    await eventually(() => new Set(stores.map((s) => s.digest())).size === 1, AE_INTERVAL * 3, 'convergence');
    const took = Date.now() - stoppedAt;
    const stats = stores.map((s) => s.stats());
    expect(down).to.equal(12);
    expect(stats.reduce((n, s) => n + s.gaps, 0), 'gaps detected').to.be.above(0);
    expect(stats.every((s) => s.resyncs > 0), 'every node resynced').to.equal(true);
    expect(took).to.be.below(AE_INTERVAL * 3);
    const contents = await Promise.all(stores.map(async (s) => JSON.stringify(await Promise.all(Array.from({ length: 300 }, (_, i) => s.get(`s${i}`))))));
    expect(contents[1]).to.equal(contents[0]);
    expect(contents[2]).to.equal(contents[0]);
  });
});
