import { expect } from 'chai';
import request from 'supertest';
import { buildApp, FRAMEWORKS } from './support/apps.js';
import { faultyAppPerTest } from './support/faulty-store.js';
import { startHttp } from './support/http.js';

// The HTTP layers' promise: a store that is down, failing or hanging gives a clear 503 with a
// code, within the store timeout, and never a 200 that claims a save that did not happen.

for (const framework of FRAMEWORKS) {
  describe(`store outage through ${framework}`, function () {
    const t = faultyAppPerTest(framework);

    it('answers 503 with ERR_SCALEOUT_STORE_UNAVAILABLE within 1 s while the store is down, then recovers on up', async function () {
      const agent = request.agent(t.server.server);
      await agent.get('/count').expect(200);
      t.store.goDown();
      const t0 = Date.now();
      const res = await agent.get('/count').timeout(1000).expect(503);
      expect(Date.now() - t0).to.be.below(1000);
      expect(res.body.error).to.equal('ERR_SCALEOUT_STORE_UNAVAILABLE');
      expect(res.headers['retry-after']).to.equal('1');
      t.store.comeUp();
      const back = await agent.get('/count').expect(200);
      expect(back.body.count).to.equal(2);
    });

    it('answers 503, never 200, when the save fails while reads work', async function () {
      const agent = request.agent(t.server.server);
      await agent.get('/count').expect(200);
      t.store.failWrites = true;
      const res = await agent.get('/count');
      expect(res.status).to.equal(503);
      expect(res.body.error).to.equal('ERR_SCALEOUT_STORE_UNAVAILABLE');
      expect(res.text).to.not.include('"count"');
      t.store.failWrites = false;
      const next = await agent.get('/count').expect(200);
      expect(next.body.count, 'the failed increment was not kept').to.equal(2);
    });

    it('answers 503 with ERR_SCALEOUT_STORE_TIMEOUT when the save hangs past the store timeout', async function () {
      const agent = request.agent(t.server.server);
      t.store.hangWrites = true;
      const t0 = Date.now();
      const res = await agent.get('/count').timeout(3000);
      expect(res.status).to.equal(503);
      expect(res.body.error).to.equal('ERR_SCALEOUT_STORE_TIMEOUT');
      expect(Date.now() - t0).to.be.below(2500);
    });

    it('serves without a session while the store is down when the app chose bypass', async function () {
      await t.server.close();
      t.server = await startHttp(buildApp(framework, t.strategy, { onStoreDown: 'bypass' }));
      t.store.goDown();
      const res = await request(t.server.server).get('/peek').expect(200);
      expect(res.body.hasSession).to.equal(false);
      t.store.comeUp();
    });
  });
}
