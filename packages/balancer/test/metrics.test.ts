import { expect } from 'chai';
import { Registry } from 'prom-client';
import { BalancerConfigError, metrics } from '../src/index.js';
import { useBackends } from './helpers.js';

describe('collectMetrics() with a prom-client registry', () => {
  const fx = useBackends([{}, { status: 503 }]);

  it('exposes per-endpoint and per-balancer series at scrape time', async () => {
    const registry = new Registry();
    const users = fx.make({ name: 'users', endpoints: fx.backends.map((b) => b.url), algorithm: 'round-robin', outlier: false });
    users.collectMetrics(registry);
    for (let i = 0; i < 4; i++) await (await users.fetch('/')).text();
    const text = await registry.metrics();
    expect(text).to.include('# TYPE scaleout_balancer_endpoint_requests_total counter');
    const line = (name: string, endpoint: string) => text.split('\n').find((l) => l.startsWith(`${name}{balancer="users",endpoint="${endpoint}"}`));
    const failing = fx.backends[1]!.url;
    expect(line('scaleout_balancer_endpoint_failures_total', failing)).to.match(/ [1-9]\d*$/);
    expect(line('scaleout_balancer_endpoint_failures_total', fx.backends[0]!.url)).to.match(/ 0$/);
    expect(line('scaleout_balancer_endpoint_in_flight', failing)).to.match(/ 0$/);
    expect(line('scaleout_balancer_endpoint_latency_ewma_seconds', fx.backends[0]!.url)).to.match(/ \d/);
    expect(text).to.match(/^scaleout_balancer_requests_total\{balancer="users"\} 4$/m);
    expect(text).to.match(/^scaleout_balancer_retries_total\{balancer="users"\} [1-9]/m);
    const json = await registry.getMetricsAsJSON();
    expect(json.map((m) => m.name)).to.include('scaleout_balancer_endpoint_available');
  });

  it('lets several balancers share a registry and unregisters on close', async () => {
    const registry = new Registry();
    const a = fx.make({ name: 'a', endpoints: [fx.backends[0]!.url] });
    const b = fx.make({ name: 'b', endpoints: [fx.backends[0]!.url] });
    a.collectMetrics(registry);
    b.collectMetrics(registry, {});
    let text = await registry.metrics();
    expect(text).to.include('requests_total{balancer="a"}');
    expect(text).to.include('requests_total{balancer="b"}');
    await a.close();
    text = await registry.metrics();
    expect(text).to.not.include('balancer="a"');
    await b.close();
    expect(await registry.metrics()).to.not.include('scaleout_balancer_');
  });

  it('builds on prom-client counters and gauges, and refuses a second balancer of the same name with a code', async () => {
    const registry = new Registry();
    const a = fx.make({ name: 'orders', endpoints: [fx.backends[0]!.url] });
    metrics(registry, { balancer: a });
    expect(registry.getSingleMetric('scaleout_balancer_requests_total')?.constructor.name).to.equal('Counter');
    expect(registry.getSingleMetric('scaleout_balancer_endpoint_in_flight')?.constructor.name).to.equal('Gauge');
    const twin = fx.make({ name: 'orders', endpoints: [fx.backends[0]!.url] });
    expect(() => metrics(registry, { balancer: twin })).to.throw().with.property('code', 'ERR_SCALEOUT_METRICS_REGISTERED');
    await (await a.fetch('/')).text();
    expect(await registry.metrics()).to.match(/^scaleout_balancer_requests_total\{balancer="orders"\} 1$/m);
  });

  it('refuses something that is not a registry, or a bad prefix', () => {
    const b = fx.make({ endpoints: [fx.backends[0]!.url] });
    for (const bad of [undefined, null, {}, 'registry', { registerMetric: 1 }]) {
      expect(() => b.collectMetrics(bad as never)).to.throw(BalancerConfigError).with.property('field', 'registry');
    }
    for (const prefix of ['', 'has space', '9lives', 'a-b']) {
      expect(() => b.collectMetrics(new Registry(), { prefix })).to.throw(BalancerConfigError).with.property('field', 'prefix');
    }
  });
});
