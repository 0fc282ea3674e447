import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { expect } from 'chai';
import { BalancerConfigError, EndpointSet, HealthChecker, type Endpoint, type HealthCheckOptions } from '../src/index.js';
import { eventually } from '@scaleout/harness';
import { startHttp, type RunningServer } from '../../../test/support/index.js';

/** A server whose /healthz answers with `status` (changeable) and counts probes. */
async function healthServer(): Promise<RunningServer & { state: { status: number; probes: number; hang: boolean } }> {
  const state = { status: 200, probes: 0, hang: false };
  const srv = await startHttp((req, res) => {
    if (req.url === '/base/healthz' || req.url === '/healthz') {
      state.probes++;
      if (state.hang) return; // never answers
      res.statusCode = state.status;
      res.end();
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  return Object.assign(srv, { state });
}

describe('HealthChecker', () => {
  const servers: Array<Awaited<ReturnType<typeof healthServer>>> = [];
  let set: EndpointSet | undefined;
  let checker: HealthChecker | undefined;

  before(async () => {
    for (let i = 0; i < 2; i++) servers.push(await healthServer());
  });
  afterEach(async () => {
    await checker?.close();
    await set?.close();
    for (const s of servers) {
      s.state.status = 200;
      s.state.hang = false;
    }
  });
  after(async () => Promise.all(servers.map((s) => s.close())));

  it('takes an endpoint down after `fall` failures and up after `rise` passes', async () => {
    set = new EndpointSet(servers.map((s) => s.url));
    checker = new HealthChecker(set, { interval: 20, timeout: 200, rise: 3, fall: 2 });
    const ep = set.all()[0]!;
    const events: string[] = [];
    set.on('down', (e: Endpoint) => events.push(`down ${e.id === ep.id}`));
    set.on('up', (e: Endpoint) => events.push(`up ${e.id === ep.id}`));

    servers[0]!.state.status = 503;
    await checker.checkAll();
    expect(ep.healthy, 'one failure is not enough').to.equal(true);
    await checker.checkAll();
    expect(ep.healthy).to.equal(false);
    expect(set.candidates()).to.not.include(ep);

    servers[0]!.state.status = 302; // 3xx passes
    await checker.checkAll();
    await checker.checkAll();
    expect(ep.healthy, 'two passes are not enough').to.equal(false);
    await checker.checkAll();
    expect(ep.healthy).to.equal(true);
    expect(events).to.deep.equal(['down true', 'up true']);
    expect(set.all()[1]!.healthy).to.equal(true);
  });

  it("type 'connect': a TCP accept passes whatever the port speaks, a refused connect fails", async () => {
    const silent = createServer((s) => s.on('error', () => {})); // accepts, never answers
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    try {
      set = new EndpointSet([`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, `http://127.0.0.1:${closedPort}`]);
      checker = new HealthChecker(set, { type: 'connect', interval: 20, timeout: 200, fall: 1 });
      await checker.checkAll();
      expect(set.all().map((e) => e.healthy)).to.deep.equal([true, false]);
      // the same for endpoints given as a host and a port
      await checker.close();
      await set.close();
      set = new EndpointSet([{ host: '127.0.0.1', port: (silent.address() as AddressInfo).port }, { host: '127.0.0.1', port: closedPort }]);
      checker = new HealthChecker(set, { type: 'connect', interval: 20, timeout: 200, fall: 1 });
      await checker.checkAll();
      expect(set.all().map((e) => e.healthy)).to.deep.equal([true, false]);
      expect(() => new HealthChecker(set!, { type: 'udp' as never })).to.throw(BalancerConfigError).with.property('field', 'healthCheck.type');
    } finally {
      silent.close();
    }
  });

  it('probes on its own interval once started, keeping the base path of the endpoint', async () => {
    set = new EndpointSet([`${servers[0]!.url}/base/`]);
    checker = new HealthChecker(set, { interval: 20, fall: 1 });
    const before = servers[0]!.state.probes;
    checker.start();
    checker.start();
    await eventually(() => servers[0]!.state.probes >= before + 3, 5000, 'three probes');
    servers[0]!.state.status = 500;
    await eventually(() => !set!.all()[0]!.healthy, 5000, 'down');
  });

  it('counts a probe that gets no answer within the timeout as a failure', async () => {
    set = new EndpointSet([servers[1]!.url]);
    checker = new HealthChecker(set, { timeout: 50, fall: 1 });
    servers[1]!.state.hang = true;
    const t0 = Date.now();
    await checker.checkAll();
    expect(Date.now() - t0).to.be.below(2000);
    expect(set.all()[0]!.healthy).to.equal(false);
  });

  it('counts a refused connection as a failure', async () => {
    const gone = await startHttp((_req, res) => res.end());
    await gone.close();
    set = new EndpointSet([gone.url]);
    checker = new HealthChecker(set, { fall: 1 });
    await checker.checkAll();
    expect(set.all()[0]!.healthy).to.equal(false);
  });

  it('probes endpoints added after start and stops probing after close', async () => {
    set = new EndpointSet([servers[0]!.url]);
    checker = new HealthChecker(set, { interval: 20 });
    checker.start();
    set.add(servers[1]!.url);
    const before = servers[1]!.state.probes;
    await eventually(() => servers[1]!.state.probes > before, 5000, 'probe of the new endpoint');
    await checker.close();
    await checker.close();
    const after = servers[1]!.state.probes;
    await new Promise((r) => setTimeout(r, 100));
    expect(servers[1]!.state.probes).to.equal(after);
  });

  describe('bad input', () => {
    const bad: Array<[HealthCheckOptions, string]> = [
      [{ path: 'healthz' }, 'healthCheck.path'],
      [{ path: '//evil.example/' }, 'healthCheck.path'],
      [{ path: '/a b' }, 'healthCheck.path'],
      [{ path: 42 as never }, 'healthCheck.path'],
      [{ interval: 'often' }, 'healthCheck.interval'],
      [{ interval: 1 }, 'healthCheck.interval'],
      [{ timeout: -1 }, 'healthCheck.timeout'],
      [{ rise: 0 }, 'healthCheck.rise'],
      [{ fall: 1.5 }, 'healthCheck.fall'],
      [{ fall: Number.NaN }, 'healthCheck.fall'],
    ];
    for (const [options, field] of bad) {
      it(`refuses ${JSON.stringify(options)} naming ${field}`, () => {
        const s = new EndpointSet(['http://a:1']);
        expect(() => new HealthChecker(s, options)).to.throw(BalancerConfigError).with.property('field', field);
      });
    }
  });
});
