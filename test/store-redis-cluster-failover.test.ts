import { expect } from 'chai';
import { createStrategy, type Strategy } from '@scaleout/core';
import type { RedisStore } from '@scaleout/redis';
import type { Cluster } from 'ioredis';
import { eventually, type RedisClusterSet, startRedisCluster } from '@scaleout/harness';
import { startSessionApp, startWriteLoad, lostWrites } from './support/write-load.js';
import type { RunningServer } from './support/http.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The port of the master that serves the slot of one stored session. */
async function masterOfSomeSession(store: RedisStore): Promise<number> {
  let id: string | undefined;
  for await (const each of store.ids()) {
    id = each;
    break;
  }
  expect(id, 'a session stored by the load').to.be.a('string');
  const client = store.client as Cluster;
  const slot = Number(await client.cluster('KEYSLOT', store.prefix + id));
  const [master] = client.slots[slot] ?? [];
  expect(master, `a node for slot ${slot}`).to.be.a('string');
  return Number(master!.slice(master!.lastIndexOf(':') + 1));
}

describe('Redis Cluster failover under a steady load of session writes', function () {
  this.timeout(90_000);
  let cluster: RedisClusterSet;
  let strategy: Strategy;
  let app: RunningServer;

  before(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    strategy = await createStrategy({
      strategy: 'store',
      secret: 'cluster failover secret',
      store: { type: 'redis', nodes: cluster.addresses, waitReplicas: 1, waitTimeout: '500ms', commandTimeout: '1s' },
    });
    app = await startSessionApp(strategy);
  });
  after(async () => {
    await app?.close();
    await strategy?.close();
    await cluster?.stop();
  });

  it('keeps every acknowledged session when a master is SIGKILLed and its replica takes over', async () => {
    const load = startWriteLoad(app.url, { clients: 12 });
    let victim: number | undefined;
    let promotedAfter: number | undefined;
    try {
      await sleep(1000);
      // The master holding a client's session, so that the kill is felt: the sessions' slots are
      // random, and twelve of them can all miss one shard of three.
      victim = await masterOfSomeSession(strategy.store as RedisStore);
      expect(await cluster.masterPorts()).to.include(victim);
      const killedAt = Date.now();
      await cluster.node(victim!).kill('SIGKILL');
      await eventually(async () => {
        const masters = await cluster.masterPorts();
        return masters.length === 3 && !masters.includes(victim!);
      }, 30_000, 'a replica promoted in place of the killed master');
      await cluster.waitHealthy();
      promotedAfter = Date.now() - killedAt;
      // The promoted master has no replica left, so its writes cannot be confirmed (waitReplicas: 1)
      // until the old master rejoins, as its replica.
      await cluster.node(victim!).restart();
      await eventually(async () => {
        const before = load.report.ok;
        await sleep(500);
        return load.report.ok > before + 50 && load.report.clients.every((c) => c.lastAcked !== undefined);
      }, 30_000, 'writes succeed again on every shard');
    } finally {
      await load.stop();
    }
    const report = load.report;
    const lost = await lostWrites(app.url, report.clients);
    console.log(
      `      cluster failover: replica promoted ${promotedAfter} ms after SIGKILL; 503 window ${report.outageMs} ms; ` +
        `${report.ok} acknowledged, ${report.unavailable} answered 503, slowest ${report.slowestMs} ms, lost ${lost.length}`,
    );
    expect(report.unexpected, 'only 200 and 503, never a hang').to.deep.equal([]);
    expect(report.unavailable, 'clients on the dead shard saw 503').to.be.greaterThan(0);
    expect(lost, 'acknowledged writes lost').to.deep.equal([]);
  });
});
