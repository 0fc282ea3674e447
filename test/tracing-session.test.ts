import { expect } from 'chai';
import request from 'supertest';
import { trace, SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { metrics } from '@scaleout/core';
import { FRAMEWORKS } from './support/apps.js';
import { faultyAppPerTest } from './support/faulty-store.js';

// With @opentelemetry/api installed and a tracer provider set, each load and save is a span
// with the store type and the outcome, alongside the metrics when those are on too.
for (const framework of FRAMEWORKS) {
  describe(`session spans through ${framework}`, function () {
    const exporter = new InMemorySpanExporter();
    const t = faultyAppPerTest(framework);
    beforeEach(() => exporter.reset());
    afterEach(() => trace.disable());

    const spans = () => exporter.getFinishedSpans().map((s) => ({ name: s.name, store: s.attributes['scaleout.store.type'], outcome: s.attributes['scaleout.session.outcome'], error: s.status.code === SpanStatusCode.ERROR }));

    it('records scaleout.session.load and scaleout.session.save spans with the store type and outcome', async function () {
      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
      const agent = request.agent(t.server.server);
      await agent.get('/count').expect(200);
      await agent.get('/count').expect(200);
      t.store.failWrites = true;
      await agent.get('/count').expect(503);
      expect(spans()).to.deep.equal([
        { name: 'scaleout.session.save', store: 'memory', outcome: 'saved', error: false },
        { name: 'scaleout.session.load', store: 'memory', outcome: 'loaded', error: false },
        { name: 'scaleout.session.save', store: 'memory', outcome: 'saved', error: false },
        { name: 'scaleout.session.load', store: 'memory', outcome: 'loaded', error: false },
        { name: 'scaleout.session.save', store: 'memory', outcome: '503_unavailable', error: true },
      ]);
      const load = exporter.getFinishedSpans()[1]!;
      expect(load.duration[0] * 1e9 + load.duration[1], 'a span has its real length').to.be.above(0);
    });

    it('records spans and metrics together when both are on', async function () {
      const registry = new Registry();
      metrics(registry, { strategy: t.strategy });
      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
      const agent = request.agent(t.server.server);
      await agent.get('/count').expect(200);
      await agent.get('/count').expect(200);
      expect(spans().map((s) => s.name)).to.deep.equal(['scaleout.session.save', 'scaleout.session.load', 'scaleout.session.save']);
      const text = await registry.metrics();
      expect(text).to.include('scaleout_session_requests_total{node="n1",outcome="saved"} 2').and.include('scaleout_session_load_duration_seconds_count{node="n1"} 1');
    });
  });
}
