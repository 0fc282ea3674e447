import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import request from 'supertest';
import { createStrategy, type Strategy } from '@scaleout/core';
import { buildApp } from './support/apps.js';
import { startHttp, type RunningServer } from './support/http.js';
import { eventually, type RedisServer, startRedis } from '@scaleout/harness';
import { burst, gate } from './support/concurrency.js';
import { cookieOf, describeSessionBehaviour } from './support/session-behaviour.js';

const secret = ['cluster-http-newest', 'cluster-http-older'];

function clusterConfig(nodeId: string, transport: Record<string, unknown>) {
  return { strategy: 'cluster' as const, nodeId, secret, cluster: { transport, discoveryWait: '100ms' } } as Parameters<typeof createStrategy>[0];
}

describe('cluster strategy over HTTP', function () {
  let redis: RedisServer | undefined;
  const redisUrl = async () => (redis ??= await startRedis()).url;
  after(async () => {
    await redis?.stop();
  });

  describeSessionBehaviour('cluster strategy on the in-process transport', () =>
    createStrategy(clusterConfig('node-a', { type: 'in-process', bus: `http-${randomUUID()}` })),
  );
  describeSessionBehaviour('cluster strategy on Redis pub/sub', async () =>
    createStrategy(clusterConfig('node-a', { type: 'redis', url: await redisUrl(), channel: `http-${randomUUID()}` })),
  );

  for (const transport of ['in-process', 'redis'] as const) {
    describe(`a session made through Express on one node is served through Koa on another (${transport})`, function () {
      const strategies: Strategy[] = [];
      const servers: RunningServer[] = [];
      after(async () => {
        await Promise.all(servers.map((s) => s.close()));
        await Promise.all(strategies.map((s) => s.close()));
      });

      it('counts on across nodes and frameworks, and a logout on one ends it on both', async function () {
        const t = transport === 'redis' ? { type: 'redis', url: await redisUrl(), channel: `x-${randomUUID()}` } : { type: 'in-process', bus: `x-${randomUUID()}` };
        strategies.push(await createStrategy(clusterConfig('node-a', t)), await createStrategy(clusterConfig('node-b', t)));
        servers.push(await startHttp(buildApp('express', strategies[0]!)), await startHttp(buildApp('koa', strategies[1]!)));
        const [a, b] = servers as [RunningServer, RunningServer];
        // Replication is asynchronous (sub-millisecond, but a response can outrun it): each step
        // waits until the other node shows the previous one, as a client switching nodes might.
        const shows = (server: RunningServer, cookie: string, count: number | null) =>
          eventually(async () => (await request(server.server).get('/peek').set('Cookie', cookie)).body.count === count, 3000, `count ${count}`);
        const first = await request(a.server).get('/count').expect(200);
        const cookie = cookieOf(first, 'sid')!;
        expect(first.body.count).to.equal(1);
        await shows(b, cookie, 1);
        const second = await request(b.server).get('/count').set('Cookie', cookie).expect(200);
        expect(second.body).to.include({ count: 2, node: 'node-b' });
        await shows(a, cookie, 2);
        const third = await request(a.server).get('/count').set('Cookie', cookie).expect(200);
        expect(third.body).to.include({ count: 3, node: 'node-a' });
        await shows(b, cookie, 3);
        await request(b.server).post('/logout').set('Cookie', cookie).expect(200);
        await shows(a, cookie, null);
      });
    });
  }

  describe('concurrent requests of one session (patch saves, key-level merge across nodes)', function () {
    const strategies: Strategy[] = [];
    const servers: RunningServer[] = [];
    after(async () => {
      await Promise.all(servers.map((s) => s.close()));
      await Promise.all(strategies.map((s) => s.close()));
    });

    for (const framework of ['express', 'koa'] as const) {
      it(`keeps all 100 keys set by 100 concurrent requests spread over two nodes through ${framework}`, async function () {
        const t = { type: 'in-process', bus: `patch-${randomUUID()}` };
        const [a, b] = [await createStrategy(clusterConfig('node-a', t)), await createStrategy(clusterConfig('node-b', t))];
        strategies.push(a, b);
        const [sa, sb] = [await startHttp(buildApp(framework, a)), await startHttp(buildApp(framework, b))];
        servers.push(sa, sb);
        const cookie = cookieOf(await request(sa.server).get('/count').expect(200), 'sid')!;
        const g = gate();
        await eventually(async () => (await request(sb.server).get('/peek').set('Cookie', cookie)).body.count === 1, 3000, 'the session on node B');
        // Every request loads the session before any saves (the gate), half of them on each node:
        // each node patches its own copy at the same time, and the key versions merge.
        const statuses = (
          await Promise.all([
            burst(sa, cookie, Array.from({ length: 50 }, (_, i) => `/set?key=k${i}&gate=${g}:100`)),
            burst(sb, cookie, Array.from({ length: 50 }, (_, i) => `/set?key=k${50 + i}&gate=${g}:100`)),
          ])
        ).flat();
        expect(statuses.filter((s) => s !== 200)).to.deep.equal([]);
        await eventually(async () => ((await request(sa.server).get('/keys').set('Cookie', cookie)).body as string[]).length === 100, 3000, 'all 100 keys on node A');
        await eventually(async () => ((await request(sb.server).get('/keys').set('Cookie', cookie)).body as string[]).length === 100, 3000, 'all 100 keys on the other node');
      });
    }
  });
});
