import { expect } from 'chai';
import { request as httpRequest } from 'node:http';
import request from 'supertest';
import { createStrategy, MemoryStore, type Strategy } from '@scaleout/core';
import { buildApp, FRAMEWORKS } from './support/apps.js';
import { startHttp, type RunningServer } from './support/http.js';
import { eventually } from '@scaleout/harness';
import { cookieOf } from './support/session-behaviour.js';

for (const framework of FRAMEWORKS) {
  describe(`session lifecycle through ${framework}`, function () {
    const servers: RunningServer[] = [];
    const strategies: Strategy[] = [];
    async function serve(config: Parameters<typeof createStrategy>[0]): Promise<{ server: RunningServer; strategy: Strategy }> {
      const strategy = await createStrategy(config);
      const server = await startHttp(buildApp(framework, strategy));
      strategies.push(strategy);
      servers.push(server);
      return { server, strategy };
    }
    afterEach(async function () {
      await Promise.all(servers.splice(0).map((s) => s.close()));
      await Promise.all(strategies.splice(0).map((s) => s.close()));
    });

    it('expires a 200 ms session and frees its memory without any read', async function () {
      const { server, strategy } = await serve({ strategy: 'sticky', nodeId: 'n1', secret: 'k', session: { ttl: '200ms' } });
      const store = strategy.store as MemoryStore;
      const agent = request.agent(server.server);
      await agent.get('/count').expect(200);
      await agent.get('/count').expect(200);
      expect(store.valueBytes()).to.be.above(0);
      // valueBytes() reads no session and sweeps nothing: only the store's own timer frees memory.
      await eventually(() => store.valueBytes() === 0, 3000, 'expired session swept');
      expect(store.expirations).to.be.at.least(1);
      const res = await agent.get('/count').expect(200);
      expect(res.body.count, 'a fresh session after expiry').to.equal(1);
    });

    it('verifies a cookie signed with a retired secret while it is listed, and refuses it once removed', async function () {
      // Three deployments of one node over one store: before, during and after a secret rotation.
      const shared = new MemoryStore();
      const node = async (secret: string[]) => {
        const strategy = await createStrategy({ strategy: 'store', nodeId: 'n1', secret });
        await strategy.store.close();
        const server = await startHttp(buildApp(framework, { ...strategy, store: shared }));
        servers.push(server);
        return server;
      };
      try {
        const before = await node(['old']);
        const sid = cookieOf(await request(before.server).get('/count').expect(200), 'sid')!;
        const during = await node(['new', 'old']);
        const still = await request(during.server).get('/count').set('Cookie', sid).expect(200);
        expect(still.body.count, 'old secret still verifies').to.equal(2);
        const after = await node(['new']);
        const refused = await request(after.server).get('/count').set('Cookie', sid).expect(200);
        expect(refused.body.count, 'removed secret no longer verifies').to.equal(1);
      } finally {
        await shared.close();
      }
    });

    it('treats non-UTF-8 bytes in the Cookie header as no session', async function () {
      const { server } = await serve({ strategy: 'sticky', nodeId: 'n1', secret: 'k' });
      const status = await new Promise<{ code: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ port: server.port, host: '127.0.0.1', path: '/count', headers: { cookie: Buffer.from([0x73, 0x69, 0x64, 0x3d, 0xff, 0xfe, 0xc3, 0x28, 0x80]).toString('latin1') } }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ code: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end();
      });
      expect(status.code).to.equal(200);
      expect(JSON.parse(status.body).count).to.equal(1);
    });
  });
}

describe('a mixed Express and Koa fleet on one store', function () {
  it('continues one session across both frameworks', async function () {
    const strategy = await createStrategy({ strategy: 'store', nodeId: 'n1', secret: 'fleet' });
    const ex = await startHttp(buildApp('express', strategy));
    const ko = await startHttp(buildApp('koa', strategy));
    try {
      const first = await request(ex.server).get('/count').expect(200);
      let cookie = cookieOf(first, strategy.session.cookieName)!;
      for (let i = 2; i <= 6; i++) {
        const target = i % 2 === 0 ? ko : ex;
        const res = await request(target.server).get('/count').set('Cookie', cookie).expect(200);
        expect(res.body.count, `request ${i} on ${i % 2 === 0 ? 'koa' : 'express'}`).to.equal(i);
        cookie = cookieOf(res, strategy.session.cookieName) ?? cookie;
      }
    } finally {
      await ex.close();
      await ko.close();
      await strategy.close();
    }
  });
});
