import { expect } from 'chai';
import { EndpointSet, type Endpoint } from '../src/index.js';
import { eventually } from '@scaleout/harness';

const fail = (ep: Endpoint, times: number): void => {
  for (let i = 0; i < times; i++) ep.begin()({ ok: false, latencyMs: 1, status: 503 });
};
const succeed = (ep: Endpoint): void => ep.begin()({ ok: true, latencyMs: 1, status: 200 });
const urls = (n: number): string[] => Array.from({ length: n }, (_, i) => `http://10.0.0.${i + 1}:80`);

describe('outlier ejection', () => {
  let set: EndpointSet;
  afterEach(async () => set?.close());

  it('ejects after 5 consecutive failures by default, for 30 s', () => {
    set = new EndpointSet(urls(3));
    const ep = set.all()[0]!;
    const ejected: string[] = [];
    set.on('eject', (e: Endpoint) => ejected.push(e.id));
    fail(ep, 4);
    expect(ep.ejected).to.equal(false);
    fail(ep, 1);
    expect(ejected).to.deep.equal([ep.id]);
    expect(ep.ejectedUntil - Date.now()).to.be.within(29_000, 30_000);
    expect(set.candidates()).to.not.include(ep);
  });

  it('starts counting again after a success', () => {
    set = new EndpointSet(urls(3));
    const ep = set.all()[0]!;
    fail(ep, 4);
    succeed(ep);
    fail(ep, 4);
    expect(ep.ejected).to.equal(false);
  });

  it('brings the endpoint back after the ejection time, then ejects for longer next time, up to the cap', async () => {
    set = new EndpointSet(urls(3), { outlier: { consecutiveFailures: 2, baseEjectionTime: 60, maxEjectionTime: 100 } });
    const ep = set.all()[0]!;
    const events: string[] = [];
    set.on('eject', () => events.push('eject'));
    set.on('uneject', () => events.push('uneject'));
    fail(ep, 2);
    expect(ep.ejectedUntil - Date.now()).to.be.within(40, 60);
    await eventually(() => !ep.ejected, 2000, 'first uneject');
    expect(set.candidates()).to.include(ep);
    fail(ep, 2);
    expect(ep.ejectedUntil - Date.now()).to.be.within(90, 100); // 2 × 60 capped at 100
    expect(ep.ejections).to.equal(2);
    await eventually(() => !ep.ejected, 2000, 'second uneject');
    expect(events).to.deep.equal(['eject', 'uneject', 'eject', 'uneject']);
  });

  it('ejects at most 10% of the endpoints, and at least one', () => {
    set = new EndpointSet(urls(20), { panicThreshold: 0 });
    for (const ep of set.all().slice(0, 10)) fail(ep, 5);
    expect(set.all().filter((e) => e.ejected)).to.have.length(2);
    expect(set.candidates()).to.have.length(18);

    const small = new EndpointSet(urls(3));
    for (const ep of small.all()) fail(ep, 5);
    expect(small.all().filter((e) => e.ejected)).to.have.length(1);
    void small.close();
  });

  it('ejects a waiting endpoint once another comes back', async () => {
    set = new EndpointSet(urls(3), { outlier: { baseEjectionTime: 50 } });
    const [a, b] = set.all();
    fail(a!, 5);
    fail(b!, 5);
    expect([a!.ejected, b!.ejected]).to.deep.equal([true, false]);
    await eventually(() => !a!.ejected, 2000, 'uneject');
    fail(b!, 1);
    expect(b!.ejected).to.equal(true);
  });

  it('can be turned off', () => {
    set = new EndpointSet(urls(3), { outlier: false });
    fail(set.all()[0]!, 50);
    expect(set.all()[0]!.ejected).to.equal(false);
    expect(set.outlier).to.equal(undefined);
  });

  it('forgets a removed endpoint and stops its timer', () => {
    set = new EndpointSet(urls(3), { outlier: { baseEjectionTime: '1h', maxEjectionTime: '1h' } });
    const ep = set.all()[0]!;
    fail(ep, 5);
    set.remove(ep.id);
    expect(ep.ejected).to.equal(false);
  });
});
