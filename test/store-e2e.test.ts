import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createStrategy, loadConfig, type Strategy } from '@scaleout/core';
import { type HazelcastCluster, type RedisServer, startHazelcast, startRedis } from '@scaleout/harness';
import { startSessionApp } from './support/write-load.js';
import type { RunningServer } from './support/http.js';

// The same app code on memory, Redis and Hazelcast: only the config file differs.

describe('Express and Koa on each store, from a config file', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let hazelcast: HazelcastCluster;
  let dir: string;
  before(async () => {
    [redis, hazelcast] = await Promise.all([startRedis(), startHazelcast({ members: 1, clusterName: 'e2e' })]);
    dir = mkdtempSync(join(tmpdir(), 'scaleout-e2e-'));
  });
  after(async () => {
    await Promise.all([redis?.stop(), hazelcast?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const stores: Record<string, () => Record<string, unknown>> = {
    memory: () => ({ type: 'memory' }),
    redis: () => ({ type: 'redis', url: redis.url, prefix: 'e2e:' }),
    hazelcast: () => ({ type: 'hazelcast', members: hazelcast.addresses, clusterName: 'e2e', map: 'e2e-sessions' }),
  };

  for (const [kind, storeSection] of Object.entries(stores)) {
    for (const framework of ['express', 'koa'] as const) {
      describe(`${framework} on ${kind}`, () => {
        let strategy: Strategy;
        let app: RunningServer;
        before(async () => {
          const file = join(dir, `${kind}-${framework}.json`);
          writeFileSync(file, JSON.stringify({ strategy: 'store', secret: ['e2e secret'], session: { ttl: '10m' }, store: storeSection() }));
          strategy = await createStrategy(await loadConfig({ file, env: {} }));
          app = await startSessionApp(strategy, framework);
        });
        after(async () => {
          await app?.close();
          await strategy?.close();
        });

        it('creates, reads, updates and destroys a session kept in the store', async () => {
          expect(strategy.store.constructor.name).to.equal({ memory: 'MemoryStore', redis: 'RedisStore', hazelcast: 'HazelcastStore' }[kind]);
          const created = await fetch(`${app.url}/write?n=1`, { method: 'POST' });
          expect(created.status).to.equal(200);
          const cookie = created.headers.getSetCookie()[0]!.split(';')[0]!;
          const read = async () => (await (await fetch(`${app.url}/read`, { headers: { cookie } })).json()) as { n: number | null };
          expect(await read()).to.deep.equal({ n: 1 });
          expect(await strategy.store.size()).to.be.at.least(1);
          expect((await fetch(`${app.url}/write?n=2`, { method: 'POST', headers: { cookie } })).status).to.equal(200);
          expect(await read()).to.deep.equal({ n: 2 });
          expect((await fetch(`${app.url}/logout`, { method: 'POST', headers: { cookie } })).status).to.equal(200);
          expect(await read()).to.deep.equal({ n: null });
        });

        it('treats a tampered or garbled cookie as no session', async () => {
          for (const bad of ['sid=s%3Aforged.signature', 'sid=%%%garbage', `sid=${'x'.repeat(5000)}`]) {
            const res = await fetch(`${app.url}/read`, { headers: { cookie: bad } });
            expect(res.status, bad.slice(0, 30)).to.equal(200);
            expect(await res.json()).to.deep.equal({ n: null });
          }
        });
      });
    }
  }
});
