import { request } from 'node:http';
import { expect } from 'chai';
import { createProxy, type Proxy } from '@scaleout/proxy';
import { freePort } from '@scaleout/harness';
import { parsePrometheusText, sampleValue, startHttp, type Family, type RunningServer } from './support/index.js';

// The metrics endpoint: prom-client's exposition, read by a strict parser, with counters that
// match the requests sent, behind the same access rule as the status page.

const M = '/__scaleout/status/metrics';

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    });
    r.on('error', reject);
    r.end();
  });
}

describe('proxy metrics: <status path>/metrics in Prometheus text', function () {
  this.timeout(20_000);
  const nodes: RunningServer[] = [];
  let proxy: Proxy;

  before(async () => {
    for (let i = 0; i < 2; i++) nodes.push(await startHttp((_req, res) => res.end('ok')));
    proxy = createProxy({
      listen: 0,
      algorithm: 'round-robin',
      targets: [{ id: 'a', url: nodes[0]!.url }, { id: 'b', url: nodes[1]!.url }, { id: 'dead', url: `http://127.0.0.1:${await freePort()}` }],
      healthCheck: { enabled: false },
      passive: { consecutiveErrors: 1000 },
      retries: 0,
    });
    await proxy.listen();
  });
  after(async () => {
    await proxy.close();
    await Promise.all(nodes.map((n) => n.close()));
  });

  it('reads strictly, names every metric scaleout_proxy_*, and counts exactly the requests sent', async () => {
    // the parser used below is strict:
    const bad = [
      'scaleout_x 1', // no trailing newline
      '# TYPE a counter\na{t="x} 1\n',
      '# TYPE a counter\na 1x\n',
      '# TYPE a counter\n# TYPE b gauge\na 1\n',
      '# TYPE a counter\na{t="1"} 1\na{t="1"} 2\n',
      '# TYPE a counter\na{t="\\x"} 1\n',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    ];
    for (const text of bad) expect(() => parsePrometheusText(text), JSON.stringify(text)).to.throw();
    expect(parsePrometheusText('# HELP a x\n# TYPE a counter\na{t="q\\"\\\\"} 1\n')[0]!.samples[0]!.labels.t).to.equal('q"\\');
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await get(proxy.port!, `/page/${i}`)).status);
    expect(statuses.filter((s) => s === 200)).to.have.length(20);
    expect(statuses.filter((s) => s === 502)).to.have.length(10);
    const res = await get(proxy.port!, M);
    expect(res.status).to.equal(200);
    expect(res.type).to.match(/^text\/plain; version=0\.0\.4/);
    const families: Family[] = parsePrometheusText(res.body);
    expect(families.map((f) => f.name).every((n) => n.startsWith('scaleout_proxy_'))).to.equal(true);
    const byTarget = (name: string, extra: Record<string, string> = {}) => ['a', 'b', 'dead'].map((target) => sampleValue(families, name, { target, ...extra }));
    expect(byTarget('scaleout_proxy_requests_total')).to.deep.equal([10, 10, 10]);
    expect(byTarget('scaleout_proxy_target_failures_total')).to.deep.equal([0, 0, 10]);
    expect(byTarget('scaleout_proxy_errors_total', { status: '502' })).to.deep.equal([0, 0, 10]);
    expect(byTarget('scaleout_proxy_response_seconds_count')).to.deep.equal([10, 10, 0]);
    expect(byTarget('scaleout_proxy_in_flight')).to.deep.equal([0, 0, 0]);
    expect(byTarget('scaleout_proxy_target_state', { state: 'up' })).to.deep.equal([1, 1, 1]);
    expect(byTarget('scaleout_proxy_redispatches_total')).to.deep.equal([0, 0, 0]);
    expect(sampleValue(families, 'scaleout_proxy_connections')).to.equal(1); // the scrape's own
    expect(families.find((f) => f.name === 'scaleout_proxy_response_seconds')!.type).to.equal('histogram');
    expect(families.find((f) => f.name === 'scaleout_proxy_requests_total')!.type).to.equal('counter');
    // scraping is not a request to a target
    const again = parsePrometheusText((await get(proxy.port!, M)).body);
    expect(sampleValue(again, 'scaleout_proxy_requests_total', { target: 'a' })).to.equal(10);
  });

  it('is behind the status page rule: a foreign Host without a token, no token when one is set', async () => {
    expect((await get(proxy.port!, M, { host: 'evil.example' })).status).to.equal(403);
    const guarded = createProxy({ listen: 0, targets: [{ id: 'a', url: nodes[0]!.url }], healthCheck: { enabled: false }, status: { token: 'metrics-token-0123456789' } });
    await guarded.listen();
    try {
      expect((await get(guarded.port!, M)).status).to.equal(401);
      const ok = await get(guarded.port!, M, { authorization: 'Bearer metrics-token-0123456789' });
      expect(ok.status).to.equal(200);
      expect(parsePrometheusText(ok.body).length).to.be.above(5);
    } finally {
      await guarded.close();
    }
  });

});
