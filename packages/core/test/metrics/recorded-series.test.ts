import { expect } from 'chai';
import { Histogram, Registry, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';
import { MetricScope } from '@scaleout/core';
import { HistogramRecorder } from '../../src/metrics/recorded-series.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];

/** Values with exact binary sums (multiples of 2^-12), on, under and above every bound. */
function values(n: number, seed = 7): number[] {
  const out = [0, 0.001, 0.01, 0.1, 1, 2 ** -12, 4096];
  let x = seed;
  for (let i = out.length; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.push((x % 8192) / 4096);
  }
  return out;
}

/** One histogram's series as prom-client exports them, by sample name and labels. */
async function samples(registry: Registry, name: string): Promise<Map<string, number>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name) as MetricObjectWithValues<MetricValueWithName<string>> | undefined;
  const out = new Map<string, number>();
  for (const v of metric?.values ?? []) out.set(`${v.metricName ?? name}${JSON.stringify(v.labels)}`, v.value);
  return out;
}

/** The same histogram fed the plain way, as the reference. */
function reference(name: string, labels: Record<string, string>, fed: number[]): Registry {
  const registry = new Registry();
  const h = new Histogram({ name, help: 'reference', labelNames: Object.keys(labels), buckets: BUCKETS, registers: [registry] });
  h.zero(labels);
  for (const v of fed) h.observe(labels, v);
  return registry;
}

describe('recorded series', function () {
  it('export the same buckets, count and sum as observe() would, scrape after scrape', async function () {
    const registry = new Registry();
    const scope = new MetricScope(registry, 'demo', 'n1');
    const series = scope.histogram({ name: 'scaleout_demo_seconds', help: 'demo', labelNames: ['op'], buckets: BUCKETS }).series({ op: 'get' });
    const all = values(500);
    const fed: number[] = [];
    for (const chunk of [all.slice(0, 100), [], all.slice(100)]) {
      for (const v of chunk) series.observe(v);
      fed.push(...chunk);
      const text = await registry.metrics();
      const expected = await reference('scaleout_demo_seconds', { node: 'n1', op: 'get' }, fed).metrics();
      expect(text.replace(/^# HELP.*\n/m, '')).to.equal(expected.replace(/^# HELP.*\n/m, ''));
    }
  });

  it('export a series from zero before its first value, and ignore values that are not finite numbers', async function () {
    const registry = new Registry();
    const series = new MetricScope(registry, 'demo', 'n1').histogram({ name: 'scaleout_demo_seconds', help: 'demo', buckets: BUCKETS }).series();
    expect((await samples(registry, 'scaleout_demo_seconds')).get('scaleout_demo_seconds_count{"node":"n1"}')).to.equal(0);
    series.observe(Number.NaN);
    series.observe(Number.POSITIVE_INFINITY);
    series.observe(0.5);
    const s = await samples(registry, 'scaleout_demo_seconds');
    expect(s.get('scaleout_demo_seconds_count{"node":"n1"}')).to.equal(1);
    expect(s.get('scaleout_demo_seconds_sum{"node":"n1"}')).to.equal(0.5);
    expect(s.get('scaleout_demo_seconds_bucket{"le":1,"node":"n1"}')).to.equal(1);
    expect(s.get('scaleout_demo_seconds_bucket{"le":0.1,"node":"n1"}')).to.equal(0);
  });

  it('start again from zero after the registry is reset, and keep counting', async function () {
    const registry = new Registry();
    const series = new MetricScope(registry, 'demo', 'n1').histogram({ name: 'scaleout_demo_seconds', help: 'demo', buckets: BUCKETS }).series();
    series.observe(0.5);
    await registry.metrics();
    registry.resetMetrics();
    series.observe(0.005);
    series.observe(0.005);
    const s = await samples(registry, 'scaleout_demo_seconds');
    expect(s.get('scaleout_demo_seconds_count{"node":"n1"}')).to.equal(2);
    expect(s.get('scaleout_demo_seconds_bucket{"le":0.01,"node":"n1"}')).to.equal(2);
  });

  it('keep the series of two instances on one registry apart, and hand over what was recorded when a scope closes', async function () {
    const registry = new Registry();
    const a = new MetricScope(registry, 'demo', 'a');
    const b = new MetricScope(registry, 'demo', 'b');
    const ha = a.histogram({ name: 'scaleout_demo_seconds', help: 'demo', buckets: BUCKETS }).series();
    const hb = b.histogram({ name: 'scaleout_demo_seconds', help: 'demo', buckets: BUCKETS }).series();
    const ca = a.counter({ name: 'scaleout_demo_total', help: 'demo', labelNames: ['outcome'] }).series({ outcome: 'ok' });
    const cb = b.counter({ name: 'scaleout_demo_total', help: 'demo', labelNames: ['outcome'] }).series({ outcome: 'ok' });
    for (let i = 0; i < 3; i++) ha.observe(0.05);
    hb.observe(2);
    ca.inc();
    ca.inc(4);
    ca.inc(-1);
    ca.inc(Number.NaN);
    cb.inc();
    a.close();
    const text = await registry.metrics();
    expect(text).to.include('scaleout_demo_seconds_count{node="a"} 3').and.include('scaleout_demo_seconds_count{node="b"} 1');
    expect(text).to.include('scaleout_demo_seconds_bucket{le="0.1",node="a"} 3').and.include('scaleout_demo_seconds_bucket{le="1",node="b"} 0');
    expect(text).to.include('scaleout_demo_total{node="a",outcome="ok"} 5').and.include('scaleout_demo_total{node="b",outcome="ok"} 1');
    ha.observe(0.05);
    expect(await registry.metrics(), 'nothing recorded after close() is exported').to.include('scaleout_demo_seconds_count{node="a"} 3');
  });

  it('refuses to feed a metric of the same name that it did not make', function () {
    const registry = new Registry();
    new Histogram({ name: 'scaleout_demo_seconds', help: 'foreign', registers: [registry] });
    expect(() => new MetricScope(registry, 'demo', 'n1').histogram({ name: 'scaleout_demo_seconds', help: 'demo' })).to.throw(/did not make/);
  });

  it('stay exact through observe() when the histogram keeps its series in an unknown shape', async function () {
    const registry = new Registry();
    const real = new Histogram({ name: 'scaleout_demo_seconds', help: 'demo', labelNames: ['node'], buckets: BUCKETS, registers: [registry] });
    // The same histogram seen without the per-series table the recorder adds into directly, as a
    // prom-client that stores its series another way would be.
    const hidden = new Proxy(real, {
      get: (target, prop) => {
        if (prop === 'hashMap') return undefined;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const recorder = new HistogramRecorder(hidden, { node: 'n1' }, BUCKETS);
    const fed = values(300, 11);
    for (const v of fed) recorder.observe(v);
    recorder.flush();
    const got = await samples(registry, 'scaleout_demo_seconds');
    const want = await samples(reference('scaleout_demo_seconds', { node: 'n1' }, fed), 'scaleout_demo_seconds');
    for (const [k, v] of want) {
      if (k.startsWith('scaleout_demo_seconds_sum')) expect(got.get(k), k).to.be.closeTo(v, 1e-9);
      else expect(got.get(k), k).to.equal(v);
    }
  });
});
