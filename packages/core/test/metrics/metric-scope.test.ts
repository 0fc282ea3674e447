import { expect } from 'chai';
import { Registry } from 'prom-client';
import { createStrategy, ErrorCodes, metrics, MetricScope, type Strategy } from '@scaleout/core';

describe('MetricScope', function () {
  it('shares one metric between instances, told apart by the node label', async function () {
    const registry = new Registry();
    const a = new MetricScope(registry, 'demo', 'a');
    const b = new MetricScope(registry, 'demo', 'b');
    const ca = a.counter({ name: 'scaleout_demo_total', help: 'demo' });
    const cb = b.counter({ name: 'scaleout_demo_total', help: 'demo' });
    expect(ca.metric).to.equal(cb.metric);
    ca.inc({ node: 'a' }, 2);
    cb.inc({ node: 'b' }, 5);
    a.collected('gauge', { name: 'scaleout_demo_now', help: 'demo' }, (set) => set({}, 1));
    b.collected('gauge', { name: 'scaleout_demo_now', help: 'demo' }, (set) => set({}, 7));
    const text = await registry.metrics();
    expect(text).to.include('scaleout_demo_total{node="a"} 2').and.include('scaleout_demo_total{node="b"} 5');
    expect(text).to.include('scaleout_demo_now{node="a"} 1').and.include('scaleout_demo_now{node="b"} 7');
    b.close();
    expect(await registry.metrics()).to.not.include('scaleout_demo_now{node="b"}');
  });

  it('refuses a second scope for the same instance with a coded error, and allows it after close()', function () {
    const registry = new Registry();
    const first = new MetricScope(registry, 'demo', 'a');
    expect(() => new MetricScope(registry, 'demo', 'a')).to.throw().with.property('code', ErrorCodes.METRICS_REGISTERED);
    first.close();
    first.close();
    expect(() => new MetricScope(registry, 'demo', 'a')).to.not.throw();
  });

  it('refuses something that is not a registry', function () {
    expect(() => new MetricScope({} as Registry, 'demo', 'a')).to.throw().with.property('code', ErrorCodes.INVALID_ARGUMENT);
  });
});

describe('metrics() of core', function () {
  const strategies: Strategy[] = [];
  after(async function () {
    for (const s of strategies) await s.close();
  });
  const make = async (nodeId: string) => {
    const s = await createStrategy({ strategy: 'store', nodeId, secret: 's3cret' });
    strategies.push(s);
    return s;
  };

  it('registers the session and memory store metrics of two nodes on one registry, and refuses a node twice', async function () {
    const registry = new Registry();
    const one = await make('n1');
    metrics(registry, { strategy: one });
    metrics(registry, { strategy: await make('n2') });
    const again = await make('n1');
    expect(() => metrics(registry, { strategy: again })).to.throw().with.property('code', ErrorCodes.METRICS_REGISTERED);
    expect(again.observer, 'a refused call leaves no observer behind').to.equal(undefined);
    await one.store.set('x', { a: 1 }, 60_000);
    const text = await registry.metrics();
    expect(text).to.include('scaleout_session_requests_total{node="n1",outcome="loaded"} 0');
    expect(text).to.include('scaleout_store_sessions{node="n1",store="memory"} 1').and.include('scaleout_store_sessions{node="n2",store="memory"} 0');
    expect(text).to.include('scaleout_store_up{node="n2",store="memory"} 1');
    expect(text).to.include('scaleout_store_operation_duration_seconds_count{node="n1",store="memory",op="set"} 1');
  });
});
