import { expect } from 'chai';
import { BalancerConfigError, BalancerError, createBalancer, type Balancer, type BalancerOptions } from '../src/index.js';
import { startHttp } from '../../../test/support/index.js';
import { useBackends } from './helpers.js';

describe('createBalancer().fetch()', () => {
  const fx = useBackends([{}, {}, {}]);

  it('sends calls to the endpoints by the algorithm and returns their responses', async () => {
    const users = fx.make({ endpoints: fx.backends.map((b) => b.url), algorithm: 'round-robin' });
    const bodies = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await users.fetch('/users/42');
      expect(res.status).to.equal(200);
      bodies.add(await res.text());
    }
    expect([...bodies].sort()).to.deep.equal(['backend-0', 'backend-1', 'backend-2']);
    const stats = users.stats();
    expect(stats.requests).to.equal(6);
    expect(stats.endpoints.map((e) => e.requests)).to.deep.equal([2, 2, 2]);
    expect(stats.endpoints.every((e) => e.inFlight === 0 && e.latencyEwmaMs !== null)).to.equal(true);
  });

  it('keeps the base path of an endpoint and passes method, headers and body', async () => {
    let seen = '';
    const echo = await startHttp((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen = `${req.method} ${req.url} ${req.headers['x-test']} ${body}`;
        res.end('ok');
      });
    });
    try {
      const b = fx.make({ endpoints: [`${echo.url}/api/`] });
      const res = await b.fetch('/items?x=1', { method: 'PUT', headers: { 'x-test': 'yes' }, body: 'payload' });
      expect(await res.text()).to.equal('ok');
      expect(seen).to.equal('PUT /api/items?x=1 yes payload');
    } finally {
      await echo.close();
    }
  });

  it('sends a hashKey to the same endpoint every time', async () => {
    const b = fx.make({ endpoints: fx.backends.map((x) => x.url), algorithm: 'ip-hash' });
    const bodies = new Set<string>();
    for (let i = 0; i < 10; i++) bodies.add(await (await b.fetch('/', { hashKey: '198.51.100.4' })).text());
    expect(bodies.size).to.equal(1);
  });

  it('times a try out and fails over to another endpoint', async () => {
    fx.backends[0]!.behaviour.delayMs = 10_000;
    const b = fx.make({ endpoints: [fx.backends[0]!.url, fx.backends[1]!.url], algorithm: 'round-robin', timeout: 500 });
    const t0 = Date.now();
    for (let i = 0; i < 2; i++) expect(await (await b.fetch('/')).text()).to.equal('backend-1');
    expect(Date.now() - t0).to.be.below(8000);
    expect(b.stats().endpoints[0]!.failures).to.be.at.least(1); // the timed-out try counts against the slow one
  });

  it('rejects with the per-try timeout error when no try answers in time', async () => {
    fx.backends[0]!.behaviour.delayMs = 2000;
    const b = fx.make({ endpoints: [fx.backends[0]!.url], retry: false, timeout: 50 });
    const err = await b.fetch('/').then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(BalancerError).with.property('code', 'ERR_SCALEOUT_UPSTREAM');
    expect((err as Error).cause).to.have.property('code', 'ERR_SCALEOUT_BALANCER_TIMEOUT');
  });

  it("stops at once on the caller's AbortSignal, with its reason, and does not retry", async () => {
    fx.backends[0]!.behaviour.delayMs = 3000;
    const b = fx.make({ endpoints: [fx.backends[0]!.url, fx.backends[1]!.url], algorithm: 'round-robin' });
    b.endpoints.all()[1]!.draining = true; // every call goes to the slow one
    const ac = new AbortController();
    const reason = new Error('caller gave up');
    setTimeout(() => ac.abort(reason), 50);
    const t0 = Date.now();
    const err = await b.fetch('/', { signal: ac.signal }).then(() => undefined, (e: unknown) => e);
    expect(err).to.equal(reason);
    expect(Date.now() - t0).to.be.below(2500);
    expect(b.stats().retries).to.equal(0);
    expect(b.endpoints.all()[0]).to.include({ inFlight: 0, failures: 0 }); // the caller's abort is not the endpoint's failure
    await expect(b.fetch('/', { signal: AbortSignal.abort(reason) })).to.be.rejectedWith('caller gave up');
    expect(fx.backends[1]!.hits).to.equal(0);
  });

  it('answers NoEndpointError when no endpoint can take the call', async () => {
    const b = fx.make({ endpoints: [fx.backends[0]!.url], panicThreshold: 0 });
    b.endpoints.all()[0]!.healthy = false;
    await expect(b.fetch('/')).to.be.rejected.and.eventually.have.property('code', 'ERR_SCALEOUT_NO_ENDPOINT');
  });

  it('refuses calls after close() with a coded error', async () => {
    const b = fx.make({ endpoints: [fx.backends[0]!.url] });
    await b.close();
    await b.close();
    await expect(b.fetch('/')).to.be.rejected.and.eventually.have.property('code', 'ERR_SCALEOUT_BALANCER_CLOSED');
  });

  it('closes with await using', async () => {
    let closed: Balancer | undefined;
    {
      await using b = createBalancer({ endpoints: [fx.backends[0]!.url], healthCheck: { interval: '1s' } });
      closed = b;
      expect((await b.fetch('/')).status).to.equal(200);
    }
    await expect(closed.fetch('/')).to.be.rejected.and.eventually.have.property('code', 'ERR_SCALEOUT_BALANCER_CLOSED');
  });

  it('reports a request fetch itself refuses without blaming the endpoint', async () => {
    const b = fx.make({ endpoints: [fx.backends[0]!.url] });
    await expect(b.fetch('/', { headers: { 'bad header': 'x' } })).to.be.rejectedWith(TypeError);
    await expect(b.fetch('/', { method: 'GET', body: 'not allowed' })).to.be.rejectedWith(TypeError);
    expect(b.endpoints.all()[0]!.failures).to.equal(0);
    expect(b.endpoints.all()[0]!.inFlight).to.equal(0);
  });

  it('counts a fx.refused connection as a failure of that endpoint', async () => {
    const b = fx.make({ endpoints: [fx.refused], retry: false });
    await expect(b.fetch('/')).to.be.rejected.and.eventually.have.property('code', 'ERR_SCALEOUT_UPSTREAM');
    expect(b.endpoints.all()[0]!.failures).to.equal(1);
  });

  describe('bad input', () => {
    const bad: Array<[string, unknown, string]> = [
      ['no options', undefined, 'options'],
      ['an empty endpoint list', { endpoints: [] }, 'endpoints'],
      ['no endpoints', {}, 'endpoints'],
      ['a string for endpoints', { endpoints: 'http://a:1' }, 'endpoints'],
      ['a malformed URL', { endpoints: ['http://ok:1', 'http//nope'] }, 'endpoints[1].url'],
      ['a negative weight', { endpoints: [{ url: 'http://a:1', weight: -2 }] }, 'endpoints[0].weight'],
      ['a NaN weight', { endpoints: [{ url: 'http://a:1', weight: Number.NaN }] }, 'endpoints[0].weight'],
      ['an unknown algorithm', { endpoints: ['http://a:1'], algorithm: 'random' }, 'algorithm'],
      ['a prototype key as algorithm', { endpoints: ['http://a:1'], algorithm: '__proto__' }, 'algorithm'],
      ['a garbled timeout', { endpoints: ['http://a:1'], timeout: '5 parsecs' }, 'timeout'],
      ['a zero timeout', { endpoints: ['http://a:1'], timeout: 0 }, 'timeout'],
      ['a budget above 1', { endpoints: ['http://a:1'], retry: { budget: 5 } }, 'retry.budget'],
      ['negative attempts', { endpoints: ['http://a:1'], retry: { attempts: -1 } }, 'retry.attempts'],
      ['huge attempts', { endpoints: ['http://a:1'], retry: { attempts: 1e9 } }, 'retry.attempts'],
      ['odd statuses', { endpoints: ['http://a:1'], retry: { statuses: [503, 'x'] } }, 'retry.statuses'],
      ['a retry string', { endpoints: ['http://a:1'], retry: 'yes' }, 'retry'],
      ['a hedge without delay', { endpoints: ['http://a:1'], hedge: {} }, 'hedge.delay'],
      ['a health check string', { endpoints: ['http://a:1'], healthCheck: '/healthz' }, 'healthCheck'],
      ['a bad health path', { endpoints: ['http://a:1'], healthCheck: { path: 'healthz' } }, 'healthCheck.path'],
      ['a bad name', { endpoints: ['http://a:1'], name: 'a b{}' }, 'name'],
      ['a bad panic threshold', { endpoints: ['http://a:1'], panicThreshold: -1 }, 'panicThreshold'],
      ['a bad discovery', { discovery: 42 }, 'discovery'],
    ];
    for (const [what, options, field] of bad) {
      it(`refuses ${what} at construction, naming ${field}`, () => {
        expect(() => createBalancer(options as BalancerOptions))
          .to.throw(BalancerConfigError)
          .that.includes({ code: 'ERR_SCALEOUT_BALANCER_CONFIG', field });
      });
    }

    const badPaths: unknown[] = ['users', '//evil.example/x', 'http://evil.example/', '/a b', '/\0', '', 42, null, `/${'a'.repeat(9000)}`];
    for (const path of badPaths) {
      it(`refuses the path ${JSON.stringify(path)?.slice(0, 40)} without sending anything`, async () => {
        const b = fx.make({ endpoints: [fx.backends[0]!.url] });
        const before = fx.backends[0]!.hits;
        await expect(b.fetch(path as string)).to.be.rejected.and.eventually.include({ code: 'ERR_SCALEOUT_BALANCER_CONFIG', field: 'path' });
        expect(fx.backends[0]!.hits).to.equal(before);
      });
    }

    it('refuses a bad hashKey, method or per-call timeout', async () => {
      const b = fx.make({ endpoints: [fx.backends[0]!.url] });
      for (const method of [42, 'GET /x', 'G\r\nX', '', 'x'.repeat(40)]) {
        await expect(b.fetch('/', { method: method as string })).to.be.rejected.and.eventually.have.property('field', 'init.method');
      }
      await expect(b.fetch('/', null as never)).to.be.rejected.and.eventually.have.property('field', 'init');
      await expect(b.fetch('/', { hashKey: 42 as never })).to.be.rejected.and.eventually.have.property('field', 'init.hashKey');
      await expect(b.fetch('/', { timeout: 'soon' })).to.be.rejected.and.eventually.have.property('field', 'init.timeout');
    });
  });
});
