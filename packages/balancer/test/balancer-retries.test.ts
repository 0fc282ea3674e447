import { expect } from 'chai';
import { eventually } from '@scaleout/harness';
import { drive, useBackends } from './helpers.js';

describe('fetch() retries and hedging', () => {
  const fx = useBackends([{}, {}, {}]);

  it('retries a connection-fx.refused endpoint elsewhere', async () => {
    const b = fx.make({ endpoints: [fx.refused, fx.backends[0]!.url], algorithm: 'round-robin', outlier: false });
    const retries: string[] = [];
    b.on('retry', (e: { endpoint: string }) => retries.push(e.endpoint));
    for (let i = 0; i < 4; i++) {
      const res = await b.fetch('/x');
      expect(await res.text()).to.equal('backend-0');
    }
    expect(retries.length).to.be.at.least(3);
    expect(new Set(retries)).to.deep.equal(new Set([fx.refused]));
    expect(b.stats().endpoints[0]).to.include({ failures: retries.length, inFlight: 0 });
    expect(fx.backends[0]!.hits).to.equal(4);
  });

  it('retries 502, 503 and 504 answers on another endpoint', async () => {
    fx.backends[0]!.behaviour.status = 503;
    const b = fx.make({ endpoints: [fx.backends[0]!.url, fx.backends[1]!.url], algorithm: 'round-robin', outlier: false });
    for (let i = 0; i < 4; i++) expect((await b.fetch('/')).status).to.equal(200);
    expect(fx.backends[0]!.hits).to.be.at.least(1);
    expect(b.stats().retries).to.equal(fx.backends[0]!.methods.length);
  });

  it('never retries on the endpoint that just failed while another exists', async () => {
    fx.backends[0]!.behaviour.status = 503;
    fx.backends[1]!.behaviour.status = 503;
    const b = fx.make({ endpoints: [fx.backends[0]!.url, fx.backends[1]!.url], algorithm: 'round-robin', outlier: false, retry: { attempts: 3, backoff: 1, maxBackoff: 2 } });
    const order: string[] = [];
    b.on('attempt', (e: { endpoint: string }) => order.push(e.endpoint === fx.backends[0]!.url ? 'A' : 'B'));
    const res = await b.fetch('/');
    expect(res.status).to.equal(503); // the last answer is returned as is
    expect(order).to.have.length(4);
    for (let i = 1; i < order.length; i++) expect(order[i]).to.not.equal(order[i - 1]);
  });

  it("stops waiting out a backoff when the caller aborts, or the balancer closes", async () => {
    fx.backends[0]!.behaviour.status = 503;
    const b = fx.make({ endpoints: [fx.backends[0]!.url], outlier: false, retry: { backoff: '10s', maxBackoff: '10s' } });
    const reason = new Error('enough');
    const ac = new AbortController();
    b.once('retry', () => setTimeout(() => ac.abort(reason), 20));
    const t0 = Date.now();
    await expect(b.fetch('/', { signal: ac.signal })).to.be.rejectedWith('enough');
    b.once('retry', () => setTimeout(() => void b.close(), 20));
    await expect(b.fetch('/')).to.be.rejected.and.eventually.have.property('code', 'ERR_SCALEOUT_BALANCER_CLOSED');
    expect(Date.now() - t0).to.be.below(5000);
  });

  it('does not retry a POST unless the caller marks it safe', async () => {
    fx.backends[0]!.behaviour.status = 503;
    const b = fx.make({ endpoints: [fx.backends[0]!.url, fx.backends[1]!.url], algorithm: 'ip-hash', outlier: false });
    const key = 'post-key';
    const keyed = b.algorithm.pick(b.endpoints.candidates(), { hashKey: key })!;
    const target = keyed.id === fx.backends[0]!.url ? fx.backends[0]! : fx.backends[1]!;
    const other = target === fx.backends[0] ? fx.backends[1]! : fx.backends[0]!;
    target.behaviour.status = 503;
    other.behaviour.status = 200;

    const post = await b.fetch('/orders', { method: 'POST', body: '{}', hashKey: key });
    expect(post.status).to.equal(503);
    expect(target.hits).to.equal(1);
    expect(other.hits).to.equal(0);

    const safe = await b.fetch('/orders', { method: 'POST', body: '{}', hashKey: key, safe: true });
    expect(safe.status).to.equal(200);
    expect(other.methods.at(-1)).to.equal('POST');
  });

  it('does not retry a POST on a fx.refused connection either', async () => {
    const b = fx.make({ endpoints: [fx.refused], outlier: false });
    await expect(b.fetch('/', { method: 'POST', body: 'x' })).to.be.rejected.and.eventually.include({ code: 'ERR_SCALEOUT_UPSTREAM', tries: 1 });
  });

  it('gives up after the configured attempts with the last cause', async () => {
    const b = fx.make({ endpoints: [fx.refused], outlier: false, retry: { attempts: 2, backoff: 1, maxBackoff: 2 } });
    const err = (await b.fetch('/').catch((e: unknown) => e)) as Error & { tries: number; code: string };
    expect(err.code).to.equal('ERR_SCALEOUT_UPSTREAM');
    expect(err.tries).to.equal(3);
    expect(err.cause).to.be.instanceOf(TypeError);
  });

  it('caps retries at the budget share under a storm of failures', async () => {
    for (const x of fx.backends) x.behaviour.status = 503;
    const b = fx.make({
      endpoints: fx.backends.map((x) => x.url),
      outlier: false,
      retry: { attempts: 3, budget: 0.2, minPerSecond: 1, window: '10s', backoff: 0, maxBackoff: 0 },
    });
    const requests = 300;
    await drive(requests, 10, async () => void (await b.fetch('/')).body?.cancel());
    const hits = fx.backends.reduce((n, x) => n + x.hits, 0);
    const s = b.stats();
    const floor = 1 * 10; // minPerSecond × window
    expect(s.retries).to.be.at.most(0.2 * requests + floor);
    expect(s.retries).to.be.at.least(0.2 * requests); // the budget is used, not left idle
    expect(hits).to.equal(requests + s.retries);
    expect(s.retryBudget!.refused).to.be.greaterThan(0);
  });

  it('rejects with ERR_SCALEOUT_RETRY_BUDGET when a needed retry is fx.refused', async () => {
    const b = fx.make({ endpoints: [fx.refused], outlier: false, retry: { budget: 0, minPerSecond: 0 } });
    const err = (await b.fetch('/').catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).to.equal('ERR_SCALEOUT_RETRY_BUDGET');
    expect(err.cause).to.be.instanceOf(TypeError);
  });

  describe('hedging', () => {
    it('sends a second try to another endpoint after the delay and keeps the first answer', async () => {
      fx.backends[0]!.behaviour.delayMs = 5000;
      const b = fx.make({ endpoints: [fx.backends[0]!.url, fx.backends[1]!.url], algorithm: 'round-robin', hedge: { delay: 30 } });
      const hedges: string[] = [];
      b.on('hedge', (e: { endpoint: string }) => hedges.push(e.endpoint));
      const t0 = Date.now();
      const bodies = [await (await b.fetch('/')).text(), await (await b.fetch('/')).text()];
      expect(bodies).to.deep.equal(['backend-1', 'backend-1']);
      expect(Date.now() - t0).to.be.below(4000);
      expect(hedges.length).to.be.within(1, 2); // each call that started on the slow endpoint
      expect(new Set(hedges)).to.deep.equal(new Set([fx.backends[1]!.url]));
      expect(b.stats().hedges).to.equal(hedges.length);
      await eventually(() => b.endpoints.all()[0]!.inFlight === 0, 2000, 'the lost try is cancelled');
      expect(b.endpoints.all()[0]!.failures, 'a lost hedge is not a failure').to.equal(0);
    });

    it('does not hedge a POST', async () => {
      fx.backends[0]!.behaviour.delayMs = 200;
      const b = fx.make({ endpoints: [fx.backends[0]!.url, fx.backends[1]!.url], algorithm: 'round-robin', hedge: { delay: 10 } });
      await b.fetch('/', { method: 'POST', body: 'a' });
      await b.fetch('/', { method: 'POST', body: 'b' });
      expect(b.stats().hedges).to.equal(0);
      expect(fx.backends[0]!.hits + fx.backends[1]!.hits).to.equal(2);
    });

    it('does not hedge a fast answer', async () => {
      const b = fx.make({ endpoints: [fx.backends[0]!.url, fx.backends[1]!.url], hedge: { delay: 500 } });
      for (let i = 0; i < 5; i++) await (await b.fetch('/')).text();
      expect(b.stats().hedges).to.equal(0);
    });
  });
});
