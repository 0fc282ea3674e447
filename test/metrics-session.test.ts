import { expect } from 'chai';
import request from 'supertest';
import { Registry } from 'prom-client';
import { createStrategy, metrics, type Strategy } from '@scaleout/core';
import { buildApp, FRAMEWORKS } from './support/apps.js';
import { startHttp, type RunningServer } from './support/http.js';
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
}
