import { expect } from 'chai';
import { createStrategy, type Strategy } from '@scaleout/core';
import type { RedisStore } from '@scaleout/redis';
import { eventually, redisInfo, type RedisSentinelSet, startRedisSentinel } from '@scaleout/harness';
import { startSessionApp, startWriteLoad, lostWrites } from './support/write-load.js';
import type { RunningServer } from './support/http.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Redis Sentinel failover under a steady load of session writes', function () {
  this.timeout(90_000);
  let sentinel: RedisSentinelSet;
  let strategy: Strategy;
  let app: RunningServer;

  before(async () => {
    // Two replicas: after one is promoted, the other still confirms writes for waitReplicas: 1.
    sentinel = await startRedisSentinel({ replicas: 2, sentinels: 3 });
    strategy = await createStrategy({
      strategy: 'store',
      secret: 'failover test secret',
      session: { storeTimeout: '2s' },
      store: { type: 'redis', sentinels: sentinel.sentinelAddresses, name: sentinel.name, waitReplicas: 1, waitTimeout: '500ms', commandTimeout: '500ms' },
    });
    app = await startSessionApp(strategy);
  });
  after(async () => {
    await app?.close();
    await strategy?.close();
    await sentinel?.stop();
  });

  it('loses no acknowledged write when the master is SIGKILLed; 503s meanwhile, then recovers by itself', async () => {
    const store = strategy.store as RedisStore;
    const events: string[] = [];
    store.on('down', () => events.push('down'));
    store.on('up', () => events.push('up'));
    const load = startWriteLoad(app.url, { clients: 8 });
    let newMaster: number;
    let promotedAfter: number;
    const oldMaster = await sentinel.masterPort();
    try {
      await sleep(1000);
      const killedAt = Date.now();
      await sentinel.redis.kill('SIGKILL');
      newMaster = await sentinel.waitForFailover(oldMaster);
      promotedAfter = Date.now() - killedAt;
      // Keep the load on until writes have gone through for a while after the promotion.
      await eventually(async () => {
        const okAtPromotion = load.report.ok;
        await sleep(500);
        return load.report.ok > okAtPromotion + 50;
      }, 30_000, 'writes succeed again after the promotion');
    } catch (err) {
      const info = await redisInfo(await sentinel.masterPort(), undefined, 'replication').catch((e: Error) => e.message);
      console.log('      state:', store.available, store.client.status, info);
      throw err;
    } finally {
      await load.stop();
    }
    const report = load.report;
    const lost = await lostWrites(app.url, report.clients);
    console.log(
      `      sentinel failover: promoted :${newMaster} ${promotedAfter} ms after SIGKILL; ` +
        `503 window ${report.outageMs} ms; ${report.ok} acknowledged, ${report.unavailable} answered 503, slowest ${report.slowestMs} ms, lost ${lost.length}`,
    );
    expect(newMaster).to.not.equal(oldMaster);
    expect(report.unexpected, 'only 200 and 503, never a hang').to.deep.equal([]);
    expect(report.unavailable, 'clients saw 503 during the failover').to.be.greaterThan(0);
    expect(lost, 'acknowledged writes lost').to.deep.equal([]);
    expect(report.clients.every((c) => c.lastAcked !== undefined)).to.equal(true);
    expect(events[0]).to.equal('down');
    expect(store.available).to.equal(true);
  });
});
