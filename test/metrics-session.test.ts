import { expect } from 'chai';
import request from 'supertest';
import { Registry } from 'prom-client';
import { createStrategy, metrics, type Strategy } from '@scaleout/core';
import { buildApp, FRAMEWORKS } from './support/apps.js';
import { startHttp, type RunningServer } from './support/http.js';
import { faultyAppPerTest } from './support/faulty-store.js';
import { parsePrometheusText, sampleValue } from './support/prometheus.js';

// The session layer's counters follow what requests did, in both bindings.

for (const framework of FRAMEWORKS) {
  describe(`session metrics through ${framework}`, function () {
    let strategy: Strategy;
    let server: RunningServer;
    let registry: Registry;

    beforeEach(async function () {
      strategy = await createStrategy({ strategy: 'store', nodeId: 'n1', secret: 's3cret' });
      registry = new Registry();
      metrics(registry, { strategy });
      server = await startHttp(buildApp(framework, strategy));
    });
    afterEach(async function () {
      await server.close();
      await strategy.close();
    });

    it('counts new, saved, loaded and unchanged sessions and times each load and save', async function () {
      const agent = request.agent(server.server);
      await agent.get('/count').expect(200); // new, saved
      await agent.get('/count').expect(200); // loaded, saved
      await agent.get('/peek').expect(200); // loaded, unchanged
      await request(server.server).get('/peek').expect(200); // new, unchanged (nothing to save)
      const f = parsePrometheusText(await registry.metrics());
      const outcome = (o: string) => sampleValue(f, 'scaleout_session_requests_total', { node: 'n1', outcome: o });
      expect({ new: outcome('new'), loaded: outcome('loaded'), saved: outcome('saved'), unchanged: outcome('unchanged'), abandoned: outcome('abandoned') }).to.deep.equal({ new: 2, loaded: 2, saved: 2, unchanged: 2, abandoned: 0 });
      expect(sampleValue(f, 'scaleout_session_load_duration_seconds_count', { node: 'n1' })).to.equal(2);
      expect(sampleValue(f, 'scaleout_session_save_duration_seconds_count', { node: 'n1' })).to.equal(2);
      expect(sampleValue(f, 'scaleout_store_sessions', { node: 'n1', store: 'memory' })).to.equal(1);
    });
  });

  describe(`session failure metrics through ${framework}`, function () {
    let registry: Registry;
    const t = faultyAppPerTest(framework, (strategy) => {
      registry = new Registry();
      metrics(registry, { strategy });
    });

    it('counts a save that hangs as 503_timeout, a failed save and a store known down as 503_unavailable', async function () {
      const agent = request.agent(t.server.server);
      await agent.get('/count').expect(200);
      t.store.hangWrites = true;
      await agent.get('/count').timeout(3000).expect(503);
      t.store.hangWrites = false;
      t.store.failWrites = true;
      await agent.get('/count').expect(503);
      t.store.failWrites = false;
      t.store.goDown();
      await agent.get('/count').expect(503);
      t.store.comeUp();
      const f = parsePrometheusText(await registry.metrics());
      const outcome = (o: string) => sampleValue(f, 'scaleout_session_requests_total', { node: 'n1', outcome: o });
      expect({ timeout: outcome('503_timeout'), unavailable: outcome('503_unavailable'), saved: outcome('saved') }).to.deep.equal({ timeout: 1, unavailable: 2, saved: 1 });
      expect(sampleValue(f, 'scaleout_session_save_duration_seconds_count', { node: 'n1' }), 'failed saves are timed too').to.equal(3);
    });
  });
}
