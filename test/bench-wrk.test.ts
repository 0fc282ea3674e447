import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { hasWrk, parseWrk, runWrk } from '../bench/support/wrk.js';

// The proxy benchmark reads its figures from wrk's report: a misread unit or a missed error line
// would publish wrong ratios, so the reader is tried on a real wrk against real servers.

async function serve(status: number): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.writeHead(status, { 'content-length': 2 }).end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('bench: wrk as the load generator', function () {
  this.timeout(20_000);
  const servers: Server[] = [];

  before(function () {
    if (!hasWrk()) throw new Error('wrk is not installed: run: npm run provision');
  });
  after(() => servers.forEach((s) => s.close()));

  it('reads requests, rate and latency percentiles from a real run', async () => {
    const { server, url } = await serve(200);
    servers.push(server);
    const r = await runWrk({ url, connections: 4, duration: 1 });
    expect(r.total).to.be.greaterThan(100);
    expect(r.rps).to.be.closeTo(r.total / r.seconds, 1);
    expect(r.seconds).to.be.within(0.8, 2);
    expect(r.p50).to.be.greaterThan(0);
    expect(r.p99).to.be.at.least(r.p90).and.at.least(r.p50);
    expect(r.p99).to.be.below(1000);
    expect(r.non2xx + r.errors + r.timeouts).to.equal(0);
  });

  it('refuses a run whose answers were not 2xx, naming how many', async () => {
    const { server, url } = await serve(503);
    servers.push(server);
    let error: Error | undefined;
    await runWrk({ url, connections: 2, duration: 1 }).catch((e: Error) => (error = e));
    expect(error?.message).to.match(/wrk on http:\/\/127\.0\.0\.1:\d+: [1-9]\d* non-2xx/);
  });

  it('converts every latency unit to milliseconds and says what it could not read', () => {
    const report = [
      'Running 1s test @ http://127.0.0.1:1/',
      '  Thread Stats   Avg      Stdev     Max   +/- Stdev',
      '    Latency   750.00us  100.00us   2.00s    90.00%',
      '  Latency Distribution',
      '     50%  500.00us',
      '     75%    1.50ms',
      '     90%    2.00ms',
      '     99%    1.20s',
      '  3000 requests in 1.50s, 300.00KB read',
      '  Socket errors: connect 1, read 2, write 0, timeout 4',
      '  Non-2xx or 3xx responses: 10',
    ].join('\n');
    const r = parseWrk(report);
    expect([r.mean, r.p50, r.p90, r.p99]).to.deep.equal([0.75, 0.5, 2, 1200]);
    expect(r.total).to.equal(2990);
    expect(r.rps).to.be.closeTo(2990 / 1.5, 0.01);
    expect([r.errors, r.timeouts, r.non2xx]).to.deep.equal([3, 4, 10]);
    expect(() => parseWrk('nothing here')).to.throw(/wrk: no "requests in" line/);
    expect(() => parseWrk(report.replace(/^ +99%.*$/m, ''))).to.throw(/wrk: no 99% line/);
  });
});
