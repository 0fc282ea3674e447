import FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { ScaleoutError } from '@scaleout/core';
import { BalancerConfigError, Endpoint, FAILURE_SAMPLE_MS, type EndpointOptions } from '../src/index.js';

describe('Endpoint', () => {
  it('defaults the id to the url and the weight to 1', () => {
    const ep = new Endpoint('http://127.0.0.1:3001');
    expect(ep.id).to.equal('http://127.0.0.1:3001');
    expect(ep.weight).to.equal(1);
    expect(ep.url.port).to.equal('3001');
    expect(ep.available).to.equal(true);
  });

  it('takes a host and a port for an endpoint that is only an address, with no URL', () => {
    const ep = new Endpoint({ host: '::1', port: 5432 });
    expect(ep.id).to.equal('[::1]:5432');
    expect(ep.address).to.deep.equal({ host: '::1', port: 5432 });
    expect(ep.hasUrl).to.equal(false);
    expect(() => ep.url).to.throw(TypeError, /\[::1\]:5432\), not a URL/);
    expect(() => ep.target('/x')).to.throw(TypeError);
    expect(ep.stats()).to.include({ id: '[::1]:5432', url: '[::1]:5432', address: '[::1]:5432' });
    expect(new Endpoint({ host: 'db.internal', port: 5432, id: 'db', weight: 3 })).to.include({ id: 'db', weight: 3 });
    // a URL endpoint has its address too, with the scheme's default port
    expect(new Endpoint('https://[::1]/api').address).to.deep.equal({ host: '::1', port: 443 });
    expect(new Endpoint('http://h:3001').address).to.deep.equal({ host: 'h', port: 3001 });
    expect(new Endpoint('http://h:3001').hasUrl).to.equal(true);
  });

  it('joins paths onto the base url by concatenation, never resolution', () => {
    const ep = new Endpoint({ url: 'http://127.0.0.1:3001/api/', id: 'a' });
    expect(ep.target('/users/42')).to.equal('http://127.0.0.1:3001/api/users/42');
    expect(new Endpoint('http://h:1').target('/x?y=1')).to.equal('http://h:1/x?y=1');
    expect(ep.target('//evil.example/x')).to.equal('http://127.0.0.1:3001/api//evil.example/x');
  });

  it('counts in flight until release, and ignores a second release', () => {
    const ep = new Endpoint('http://h:1');
    const r1 = ep.begin();
    const r2 = ep.begin();
    expect(ep.inFlight).to.equal(2);
    r1({ ok: true, latencyMs: 12 });
    r1({ ok: false, latencyMs: 1 });
    expect(ep.inFlight).to.equal(1);
    expect(ep.requests).to.equal(1);
    expect(ep.failures).to.equal(0);
    r2({ ok: false, latencyMs: 3, status: 503 });
    expect(ep.inFlight).to.equal(0);
    expect(ep.failures).to.equal(1);
    expect(ep.consecutiveFailures).to.equal(1);
  });

  it('counts nothing but the slot for a cancelled call', () => {
    const ep = new Endpoint('http://h:1');
    ep.begin()({ ok: false, latencyMs: 5, cancelled: true });
    expect(ep.stats()).to.include({ inFlight: 0, requests: 0, failures: 0, latencyEwmaMs: null });
  });

  describe('peak EWMA', () => {
    it('has no value without history', () => {
      expect(new Endpoint('http://h:1').latencyEwma()).to.equal(undefined);
    });

    it('jumps to a higher sample at once and blends a lower one in over time', () => {
      const ep = new Endpoint('http://h:1', 'e', 1000);
      ep.observeLatency(10, 1_000);
      ep.observeLatency(100, 1_001);
      expect(ep.latencyEwma(1_001)).to.equal(100);
      ep.observeLatency(10, 1_002); // 1 ms later: barely moves
      expect(ep.latencyEwma(1_002)).to.be.closeTo(100, 0.2);
      ep.observeLatency(10, 11_002); // ten time constants later: mostly the new sample
      expect(ep.latencyEwma(11_002)).to.be.closeTo(10, 0.01);
    });

    it('decays towards zero while nothing is observed, so a slow endpoint is tried again', () => {
      const ep = new Endpoint('http://h:1', 'e', 1000);
      ep.observeLatency(100, 0);
      expect(ep.latencyEwma(1000)).to.be.closeTo(100 / Math.E, 0.01);
    });

    it('counts a fast failure as a slow sample', () => {
      const ep = new Endpoint('http://h:1');
      ep.begin()({ ok: false, latencyMs: 1 });
      expect(ep.latencyEwma()).to.be.at.least(FAILURE_SAMPLE_MS * 0.99);
    });
  });

  it('ramps its effective weight during slow start', () => {
    const clock = FakeTimers.install({ toFake: ['Date'] });
    try {
      const ep = new Endpoint({ url: 'http://h:1', weight: 10 });
      ep.startSlowStart(200);
      expect(ep.effectiveWeight).to.be.at.least(1).and.below(5);
      clock.tick(100);
      expect(ep.effectiveWeight).to.be.above(1).and.below(10);
      clock.tick(150);
      expect(ep.effectiveWeight).to.equal(10);
    } finally {
      clock.uninstall();
    }
  });

  it('is unavailable while unhealthy, draining or ejected', () => {
    const ep = new Endpoint('http://h:1');
    ep.healthy = false;
    expect(ep.available).to.equal(false);
    ep.healthy = true;
    ep.draining = true;
    expect(ep.available).to.equal(false);
    ep.draining = false;
    ep.ejectedUntil = Date.now() + 1000;
    expect(ep.available).to.equal(false);
  });

  it('reports plain JSON stats', () => {
    const ep = new Endpoint({ url: 'http://127.0.0.1:3001', id: 'n1', weight: 2 });
    ep.begin()({ ok: true, latencyMs: 4 });
    const s = ep.stats();
    expect(JSON.parse(JSON.stringify(s))).to.deep.equal(s);
    expect(s).to.include({ id: 'n1', url: 'http://127.0.0.1:3001/', weight: 2, requests: 1, inFlight: 0, latencyEwmaMs: 4 });
  });

  describe('bad input', () => {
    const bad: Array<[unknown, string]> = [
      ['', 'endpoint.url'],
      ['not a url', 'endpoint.url'],
      ['ftp://127.0.0.1/', 'endpoint.url'],
      ['javascript:alert(1)', 'endpoint.url'],
      ['http://user:pw@127.0.0.1/', 'endpoint.url'],
      ['http://127.0.0.1/?q=1', 'endpoint.url'],
      [`http://${'a'.repeat(3000)}.com/`, 'endpoint.url'],
      [42, 'endpoint'],
      [null, 'endpoint'],
      [{ url: 42 }, 'endpoint.url'],
      [{ url: 'http://h:1', weight: -1 }, 'endpoint.weight'],
      [{ url: 'http://h:1', weight: Number.NaN }, 'endpoint.weight'],
      [{ url: 'http://h:1', weight: 0 }, 'endpoint.weight'],
      [{ url: 'http://h:1', weight: Infinity }, 'endpoint.weight'],
      [{ url: 'http://h:1', weight: '3' }, 'endpoint.weight'],
      [{ url: 'http://h:1', id: '' }, 'endpoint.id'],
      [{ url: 'http://h:1', id: 7 }, 'endpoint.id'],
      [{ url: 'http://h:1', id: 'x'.repeat(600) }, 'endpoint.id'],
      [{ host: 'http://h', port: 1 }, 'endpoint.host'],
      [{ host: '', port: 1 }, 'endpoint.host'],
      [{ host: '[::1]', port: 1 }, 'endpoint.host'],
      [{ host: 'h x', port: 1 }, 'endpoint.host'],
      [{ host: 'h', port: 0 }, 'endpoint.port'],
      [{ host: 'h', port: 65_536 }, 'endpoint.port'],
      [{ host: 'h', port: '80' }, 'endpoint.port'],
      [{ host: 'h', port: 1.5 }, 'endpoint.port'],
      [{ host: 'h', port: 1, weight: 0 }, 'endpoint.weight'],
    ];
    for (const [value, field] of bad) {
      it(`refuses ${JSON.stringify(value)?.slice(0, 60)} naming ${field}`, () => {
        expect(() => new Endpoint(value as EndpointOptions))
          .to.throw(BalancerConfigError)
          .that.includes({ code: 'ERR_SCALEOUT_BALANCER_CONFIG', field });
      });
    }

    it('never prints the password of a refused URL with credentials', () => {
      let err: unknown;
      try {
        new Endpoint('http://admin:hunter2-s3cret@10.0.0.5:3001/');
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(BalancerConfigError).that.includes({ field: 'endpoint.url' });
      expect(err, 'one error base for every package').to.be.instanceOf(ScaleoutError);
      expect((err as Error).message).to.include('http://[redacted]@').and.not.include('hunter2');
    });
  });
});
