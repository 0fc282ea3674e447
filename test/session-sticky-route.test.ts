import { expect } from 'chai';
import request from 'supertest';
import { createStrategy, RouteTable, routeTag, type Strategy } from '@scaleout/core';
import { buildApp, FRAMEWORKS } from './support/apps.js';
import { startHttp, type RunningServer } from './support/http.js';
import { cookieOf } from './support/session-behaviour.js';

for (const framework of FRAMEWORKS) {
  describe(`sticky route cookie through ${framework}`, function () {
    let strategy: Strategy;
    let server: RunningServer;

    before(async function () {
      strategy = await createStrategy({ strategy: 'sticky', nodeId: 'node-7.internal', secret: ['new', 'old'] });
      server = await startHttp(buildApp(framework, strategy));
    });
    after(async function () {
      await server.close();
      await strategy.close();
    });

    it('sets an opaque route tag that names this node for a balancer holding the secret', async function () {
      const res = await request(server.server).get('/count').expect(200);
      const route = cookieOf(res, 'route');
      expect(route, 'route cookie').to.be.a('string');
      const value = route!.split('=')[1]!;
      expect(value).to.not.include('node').and.not.include('7').and.not.include('127.0.0.1');
      expect(value).to.have.length(22);
      expect(new RouteTable(['node-1', 'node-7.internal'], ['new']).resolve(value)).to.equal('node-7.internal');
    });

    it('keeps the same tag on every request and does not rewrite a current cookie', async function () {
      const agent = request.agent(server.server);
      const first = await agent.get('/count').expect(200);
      const tag = cookieOf(first, 'route');
      for (let i = 0; i < 5; i++) {
        const res = await agent.get('/count').expect(200);
        expect(cookieOf(res, 'route'), 'no rewrite of a current tag').to.equal(undefined);
      }
      const fresh = await request(server.server).get('/count').expect(200);
      expect(cookieOf(fresh, 'route')).to.equal(tag);
    });

    const bad: Array<[string, string]> = [
      ['a forged tag', 'route=AAAAAAAAAAAAAAAAAAAAAA'],
      ["another node's tag", `route=${routeTag('node-1', 'new')}`],
      ['a tag under a retired secret', `route=${routeTag('node-7.internal', 'old')}`],
      ['a garbled value', 'route=%%%<script>'],
      ['an 8 KB value', `route=${'x'.repeat(8192)}`],
    ];
    for (const [what, cookie] of bad) {
      it(`rewrites ${what} with this node's current tag and serves the request`, async function () {
        const res = await request(server.server).get('/count').set('Cookie', cookie).expect(200);
        expect(cookieOf(res, 'route')).to.equal(`route=${routeTag('node-7.internal', 'new')}`);
      });
    }
  });
}
