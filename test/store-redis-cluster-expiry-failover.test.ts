import { expect } from 'chai';
import { createStrategy, type Strategy } from '@scaleout/core';
import { eventually, redisCommand, startRedisCluster, type RedisClusterSet } from '@scaleout/harness';
import { expiredEventOf } from './support/redis-user-index.js';

// Keyspace notifications are local to each master: after a failover, the promoted replica must
// get a subscriber (and `Ex` turned on) or the expiries of its slots are never announced.
describe('Redis Cluster: expired events after a master is SIGKILLed and its replica promoted', function () {
  this.timeout(90_000);
  let cluster: RedisClusterSet;
  let strategy: Strategy;

  before(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    strategy = await createStrategy({ strategy: 'store', nodeId: 'x1', secret: 'expiry failover secret', store: { type: 'redis', nodes: cluster.addresses } });
  });
  after(async () => {
    await strategy?.close();
    await cluster?.stop();
  });

  /** A session id whose key is in the first master's slots (0 to 5460 of three masters). */
  async function idOnFirstShard(label: string): Promise<string> {
    const port = cluster.nodes[1]!.port;
    for (let i = 0; ; i++) {
      const id = `${label}-${i}-${Date.now()}`;
      if (Number(await redisCommand(port, undefined, 'CLUSTER', 'KEYSLOT', `sess:${id}`)) <= 5460) return id;
    }
  }

  it('still emits expired for a session on the promoted master\'s slots', async () => {
    const victim = cluster.nodes[0]!.port;
    expect(await cluster.masterPorts()).to.include(victim);
    // Before: the first master's expiries are heard.
    const early = await idOnFirstShard('before');
    expect((await expiredEventOf(strategy, early)).userId).to.equal(`u-${early}`);

    await cluster.node(victim).kill('SIGKILL');
    await eventually(async () => {
      const masters = await cluster.masterPorts();
      return masters.length === 3 && !masters.includes(victim);
    }, 30_000, 'a replica promoted in place of the killed master');
    await cluster.waitHealthy();
    const promoted = cluster.nodes[3]!.port;
    expect(await cluster.masterPorts()).to.include(promoted);

    const late = await idOnFirstShard('after');
    expect((await expiredEventOf(strategy, late)).userId).to.equal(`u-${late}`);
    // The promoted master sends expiry notifications because it was told to, as the first masters were.
    const [, flags] = (await redisCommand(promoted, undefined, 'CONFIG', 'GET', 'notify-keyspace-events')) as string[];
    expect(flags).to.include('E').and.to.include('x');
  });
});
