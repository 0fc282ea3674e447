import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';
import { Registry } from 'prom-client';
import { createStrategy, metrics, type Strategy } from '@scaleout/core';
import { metrics as redisMetrics } from '@scaleout/redis';
import { metrics as clusterMetrics, type ReplicatedStore } from '@scaleout/cluster';
import { createProxy, metrics as proxyMetrics, type Proxy } from '@scaleout/proxy';
import { buildApp } from './support/apps.js';
import { startHttp, type RunningServer } from './support/http.js';
import { eventually, type RedisServer, startRedis } from '@scaleout/harness';
import { parsePrometheusText, sampleValue, type Family } from './support/prometheus.js';

/** Every metric that the metrics issue names, which the scripted run must export. */
const NAMED = [
  'scaleout_session_requests_total',
  'scaleout_session_load_duration_seconds',
  'scaleout_session_save_duration_seconds',
  'scaleout_session_lock_wait_seconds',
  'scaleout_store_up',
  'scaleout_store_operation_duration_seconds',
  'scaleout_store_errors_total',
  'scaleout_store_invalid_values_total',
  'scaleout_store_sessions',
  'scaleout_cluster_replication_lag_seconds',
  'scaleout_cluster_frames_total',
  'scaleout_cluster_dropped_frames_total',
  'scaleout_cluster_gaps_total',
  'scaleout_cluster_resyncs_total',
  'scaleout_cluster_peers',
];

/** The series names a PromQL expression reads (identifiers followed by a selector, a range or an operator, minus PromQL's own words). */
function seriesIn(expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const noLabels = noStrings.replace(/\{[^}]*\}/g, '{}').replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  return [...noLabels.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((m) => m[1]!).filter((w) => w.startsWith('scaleout_') || /_(total|seconds|bucket|count|sum)$/.test(w));
}

/** The family a sample name belongs to (`x_bucket` of histogram `x`). */
function familyOf(families: Family[], series: string): Family | undefined {
  return families.find((f) => f.name === series || (f.type === 'histogram' && [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`].includes(series)));
}

// One scripted run over real parts: sessions created, loaded and saved on Redis; one lock
// timeout; Redis SIGKILLed and one request answered 503; a cluster of two nodes that drops a
// frame; a proxy in front. Then the registry's text must hold every metric the issue names,
// with counters equal to what the run did, and the dashboard and alerts may only use what it
// exported.
describe('metrics after a scripted run', function () {
  this.timeout(60_000);
  const registry = new Registry();
  let redis: RedisServer;
  let web: Strategy;
  let app: RunningServer;
  const cluster: Strategy[] = [];
  let proxy: Proxy;
  let families: Family[];
  let proxyFamilies: Family[];
  let expected: { redisErrors: number };

  before(async function () {
    redis = await startRedis();
    web = await createStrategy({ strategy: 'store', nodeId: 'web-1', secret: 's3cret', store: { type: 'redis', url: redis.url, prefix: 'run:', commandTimeout: '500ms' } });
    metrics(registry, { strategy: web });
    redisMetrics(registry, { strategy: web, sessions: true });
    app = await startHttp(buildApp('express', web, { lock: { ttl: '10s', wait: '200ms' } }));
    proxy = createProxy({ listen: 0, targets: [{ id: 'web-1', url: app.url }], healthCheck: { enabled: false }, retries: 0 });
    await proxy.listen();
    proxyMetrics(registry, { proxy, name: 'edge' });
    expect(() => proxyMetrics(registry, { proxy, name: 'edge' })).to.throw().with.property('code', 'ERR_SCALEOUT_METRICS_REGISTERED');
    const base = `http://127.0.0.1:${proxy.port}`;
    const get = async (path: string, cookie?: string) => {
      const res = await fetch(`${app.url}${path}`, { headers: cookie ? { cookie } : {}, signal: AbortSignal.timeout(5000) });
      await res.text();
      return { status: res.status, cookie: res.headers.getSetCookie()[0]?.split(';')[0] };
    };

    // Sessions: one created and saved, then loaded and saved, then loaded unchanged.
    const first = await get('/count');
    expect(first.status).to.equal(200);
    const cookie = first.cookie!;
    expect((await get('/count', cookie)).status).to.equal(200);
    expect((await get('/peek', cookie)).status).to.equal(200);
    // A lock timeout: one request holds the session's lock for a second, another waits 200 ms.
    const holding = get('/count?delay=1000', cookie);
    await eventually(async () => sampleValue(parsePrometheusText(await registry.metrics()), 'scaleout_session_lock_wait_seconds_count', { node: 'web-1' }) === 3, 5000, 'the slow request holds the lock');
    expect((await get('/peek', cookie)).status).to.equal(503);
    expect((await holding).status).to.equal(200);
    // A stored value that is not a session.
    await redis.command('SET', 'run:garbage', 'not json');
    expect(await web.store.get('garbage')).to.equal(undefined);
    // Through the proxy once.
    expect((await fetch(`${base}/peek`, { headers: { cookie } })).status).to.equal(200);
    // The outage: Redis killed; the next request is refused with a 503, a direct read fails.
    await redis.kill('SIGKILL');
    await eventually(() => web.store.available === false, 10_000, 'the store reports down');
    expect((await get('/peek', cookie)).status).to.equal(503);
    await expect(web.store.get('any')).to.be.rejected;
    expected = { redisErrors: 1 };

    // A cluster of two nodes; the second drops a frame that does not parse.
    const bus = `metrics-${Date.now()}`;
    for (const nodeId of ['c1', 'c2']) {
      const s = await createStrategy({ strategy: 'cluster', nodeId, secret: 's3cret', cluster: { transport: { type: 'in-process', bus }, discoveryWait: 50 } });
      cluster.push(s);
      clusterMetrics(registry, { strategy: s });
    }
    await cluster[0]!.store.set('shared', { v: 1 }, 60_000);
    await eventually(async () => Boolean(await cluster[1]!.store.get('shared')), 5000, 'replicated');
    (cluster[1]!.store as ReplicatedStore).receive(new Uint8Array([0, 1, 2, 3]));

    families = parsePrometheusText(await registry.metrics());
    const res = await fetch(`${base}/__scaleout/status/metrics`);
    proxyFamilies = parsePrometheusText(await res.text());
  });

  after(async function () {
    await proxy?.close();
    await app?.close();
    await web?.close();
    for (const s of cluster) await s.close();
    await redis?.stop();
  });

  it('exports every metric the issue names, in valid Prometheus text', function () {
    const names = new Set(families.map((f) => f.name));
    for (const n of NAMED) expect(names.has(n), n).to.equal(true);
    for (const f of families) expect(f.name.startsWith('scaleout_'), f.name).to.equal(true);
    expect(registry.contentType).to.match(/^text\/plain; version=0\.0\.4/);
  });

  it('counts exactly what the run did', function () {
    const v = (name: string, labels: Record<string, string>) => sampleValue(families, name, labels);
    const outcome = (o: string) => v('scaleout_session_requests_total', { node: 'web-1', outcome: o });
    // open: /count new; /count, /peek, the slow /count and the proxied /peek loaded. commit: three saves, two unchanged.
    expect(Object.fromEntries(['new', 'loaded', 'saved', 'unchanged', '503_unavailable', '503_timeout', 'lock_timeout', 'abandoned'].map((o) => [o, outcome(o)]))).to.deep.equal({
      new: 1,
      loaded: 4,
      saved: 3,
      unchanged: 2,
      '503_unavailable': 1,
      '503_timeout': 0,
      lock_timeout: 1,
      abandoned: 0,
    });
    expect(v('scaleout_session_load_duration_seconds_count', { node: 'web-1' })).to.equal(4);
    expect(v('scaleout_session_save_duration_seconds_count', { node: 'web-1' })).to.equal(3);
    expect(v('scaleout_session_lock_wait_seconds_count', { node: 'web-1' })).to.equal(5);
    const redisStore = { node: 'web-1', store: 'redis' };
    expect(v('scaleout_store_up', redisStore)).to.equal(0);
    expect(v('scaleout_store_invalid_values_total', redisStore)).to.equal(1);
    expect(v('scaleout_store_errors_total', { ...redisStore, op: 'get' })).to.equal(expected.redisErrors);
    // Reads: four loads, the garbage read and the failed one.
    expect(v('scaleout_store_operation_duration_seconds_count', { ...redisStore, op: 'get' })).to.equal(6);
    expect(v('scaleout_store_sessions', { node: 'c2', store: 'cluster' })).to.equal(1);
    expect(v('scaleout_cluster_dropped_frames_total', { node: 'c2', reason: 'malformed' })).to.equal(1);
    expect(v('scaleout_cluster_dropped_frames_total', { node: 'c1', reason: 'malformed' })).to.equal(0);
    expect(v('scaleout_cluster_replication_lag_seconds_count', { node: 'c2' })).to.equal(1);
    expect(v('scaleout_cluster_frames_total', { node: 'c1', direction: 'sent', kind: 'writes' })).to.equal(1);
    expect(v('scaleout_cluster_peers', { node: 'c1' })).to.equal(1);
    expect(sampleValue(proxyFamilies, 'scaleout_proxy_requests_total', { target: 'web-1' })).to.equal(1);
    // The proxy's series on the app's registry, fed as on its own.
    expect(v('scaleout_proxy_requests_total', { proxy: 'edge', target: 'web-1' })).to.equal(1);
    expect(v('scaleout_proxy_response_seconds_count', { proxy: 'edge', target: 'web-1' })).to.equal(1);
    expect(v('scaleout_proxy_target_state', { proxy: 'edge', target: 'web-1', state: 'up' })).to.equal(1);
  });

  it('names, in every dashboard panel and alert rule, only metrics that the run exported', function () {
    const exported = [...families, ...proxyFamilies];
    const dashboard = JSON.parse(readFileSync(new URL('../docs/grafana/scaleout.json', import.meta.url), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const rules = parseYaml(readFileSync(new URL('../docs/prometheus-alerts.yml', import.meta.url), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
    const exprs = [
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => [`panel "${p.title}"`, t.expr] as const)),
      ...rules.groups.flatMap((g) => g.rules.map((r) => [`alert ${r.alert}`, r.expr] as const)),
    ];
    expect(dashboard.panels.length).to.be.at.least(6);
    expect(rules.groups[0]!.rules.map((r) => r.alert)).to.have.length(4);
    for (const [where, expr] of exprs) {
      const series = seriesIn(expr);
      expect(series.length, `${where} reads no scaleout metric: ${expr}`).to.be.above(0);
      for (const s of series) expect(familyOf(exported, s), `${where} reads ${s}, which the run did not export`).to.not.equal(undefined);
    }
  });
});
