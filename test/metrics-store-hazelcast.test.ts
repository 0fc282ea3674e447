import { expect } from 'chai';
import request from 'supertest';
import { Registry } from 'prom-client';
import { createStrategy, ErrorCodes, metrics, type Strategy } from '@scaleout/core';
import { metrics as hazelcastMetrics } from '@scaleout/hazelcast';
import { buildApp } from './support/apps.js';
import { eventually, type HazelcastCluster, startHazelcast } from '@scaleout/harness';
import { startHttp, type RunningServer } from './support/http.js';
import { parsePrometheusText, sampleValue } from './support/prometheus.js';

// The Hazelcast store's metrics on a real member: operations timed, sessions counted when asked,
// up going to 0 when the member stops.
describe('Hazelcast store metrics', function () {
  this.timeout(90_000);
  let hazelcast: HazelcastCluster;
  let strategy: Strategy;
  let server: RunningServer;
  const registry = new Registry();

  before(async function () {
    hazelcast = await startHazelcast({ members: 1, clusterName: 'metrics' });
    strategy = await createStrategy({ strategy: 'store', nodeId: 'hz-1', secret: 's3cret', store: { type: 'hazelcast', members: hazelcast.addresses, clusterName: 'metrics', map: 'metrics-sessions' } });
    metrics(registry, { strategy });
    hazelcastMetrics(registry, { strategy, sessions: true });
    server = await startHttp(buildApp('koa', strategy));
  });
  after(async function () {
    await server?.close();
    await strategy?.close();
    await hazelcast?.stop();
  });

  it('times each operation, counts sessions, refuses a second registration and reports the member gone', async function () {
    expect(() => hazelcastMetrics(registry, { strategy })).to.throw().with.property('code', ErrorCodes.METRICS_REGISTERED);
    const agent = request.agent(server.server);
    await agent.get('/count').expect(200);
    await agent.get('/count').expect(200);
    await request(server.server).get('/count').expect(200);
    let f = parsePrometheusText(await registry.metrics());
    const hz = { node: 'hz-1', store: 'hazelcast' };
    expect(sampleValue(f, 'scaleout_store_sessions', hz)).to.equal(2);
    expect(sampleValue(f, 'scaleout_store_up', hz)).to.equal(1);
    // The second request's load only: its patch is a replaceIfSame against the value that load read, no second get.
    expect(sampleValue(f, 'scaleout_store_operation_duration_seconds_count', { ...hz, op: 'get' })).to.equal(1);
    expect(sampleValue(f, 'scaleout_store_operation_duration_seconds_count', { ...hz, op: 'patch' })).to.equal(1);
    expect(sampleValue(f, 'scaleout_session_requests_total', { node: 'hz-1', outcome: 'saved' })).to.equal(3);
    await hazelcast.stop();
    await eventually(() => strategy.store.available === false, 30_000, 'the store reports down');
    f = parsePrometheusText(await registry.metrics());
    expect(sampleValue(f, 'scaleout_store_up', hz)).to.equal(0);
  });
});
