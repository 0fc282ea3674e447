import { expect } from 'chai';
import { createStrategy, type Strategy } from '@scaleout/core';
import { type HazelcastStoreConfig, createStore } from '@scaleout/hazelcast';
import { eventually, type HazelcastCluster, startHazelcast } from '@scaleout/harness';
import { fillStore } from './support/store-contract.js';
import { startSessionApp, startWriteLoad, lostWrites } from './support/write-load.js';
import type { RunningServer } from './support/http.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Hazelcast member loss under a steady load of session writes (backup-count 1)', function () {
  this.timeout(90_000);
  let cluster: HazelcastCluster;
  let strategy: Strategy;
  let app: RunningServer;

  before(async () => {
    cluster = await startHazelcast({ members: 2, backupCount: 1, clusterName: 'failover' });
    strategy = await createStrategy({
      strategy: 'store',
      secret: 'hazelcast failover secret',
      store: { type: 'hazelcast', members: cluster.addresses, clusterName: cluster.clusterName, map: 'sessions', commandTimeout: '2s' },
    });
    app = await startSessionApp(strategy);
  });
  after(async () => {
    await app?.close();
    await strategy?.close();
    await cluster?.stop();
  });

  it('loses no session, acknowledged or stored, when one of two members is SIGKILLed', async () => {
    const store = strategy.store;
    const stored = await fillStore(store, 'pre', 2000, 600_000, 50);
    const load = startWriteLoad(app.url, { clients: 8 });
    try {
      await sleep(1000);
      await cluster.members[1]!.kill('SIGKILL');
      await cluster.waitForSize(1, 30_000);
      await eventually(async () => {
        const before = load.report.ok;
        await sleep(500);
        return load.report.ok > before + 50;
      }, 30_000, 'writes go on with one member');
    } finally {
      await load.stop();
    }
    const report = load.report;
    const lost = await lostWrites(app.url, report.clients);
    let missing = 0;
    for (const id of stored) if ((await store.get(id)) === undefined) missing++;
    console.log(
      `      hazelcast member loss: ${report.ok} acknowledged, ${report.unavailable} answered 503, slowest ${report.slowestMs} ms, ` +
        `lost ${lost.length} acknowledged and ${missing} of ${stored.length} stored`,
    );
    expect(report.unexpected, 'only 200 and 503, never a hang').to.deep.equal([]);
    expect(lost, 'acknowledged writes lost').to.deep.equal([]);
    expect(missing, 'stored sessions lost').to.equal(0);
    expect(await store.size()).to.be.at.least(stored.length);
  });
});

describe('Hazelcast member loss without backups (backup-count 0), for contrast', function () {
  this.timeout(90_000);
  let cluster: HazelcastCluster;
  after(async () => {
    await cluster?.stop();
  });

  it('loses the sessions the dead member owned', async () => {
    cluster = await startHazelcast({ members: 2, backupCount: 0, clusterName: 'no-backups' });
    const store = await createStore({ type: 'hazelcast', members: [cluster.addresses[0]!], clusterName: cluster.clusterName, map: 'sessions' } as HazelcastStoreConfig);
    try {
      const ids = await fillStore(store, 'nb', 1000);
      await cluster.members[1]!.kill('SIGKILL');
      await cluster.waitForSize(1, 30_000);
      const left = await eventually(async () => {
        const n = await store.size();
        return n < 1000 ? n : 0;
      }, 30_000, 'the lost partitions dropped');
      console.log(`      without backups: ${1000 - left} of ${ids.length} sessions lost with one member`);
      expect(left).to.be.lessThan(1000);
    } finally {
      await store.close();
    }
  });
});
