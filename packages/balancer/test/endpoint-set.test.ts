import { expect } from 'chai';
import { BalancerConfigError, EndpointSet, type Endpoint, type EndpointSetOptions } from '../src/index.js';

const urls = (n: number): string[] => Array.from({ length: n }, (_, i) => `http://10.0.0.${i + 1}:80`);

describe('EndpointSet', () => {
  let set: EndpointSet;
  afterEach(async () => set?.close());

  it('holds the given endpoints in order, all of them candidates', () => {
    set = new EndpointSet(['http://a:1', { url: 'http://b:1', id: 'b', weight: 3 }]);
    expect(set.all().map((e) => e.id)).to.deep.equal(['http://a:1', 'b']);
    expect(set.candidates()).to.have.length(2);
    expect(set.get('b')!.weight).to.equal(3);
    expect(set.size).to.equal(2);
  });

  it('adds and removes at run time, with events', () => {
    set = new EndpointSet(urls(2));
    const seen: string[] = [];
    set.on('add', (ep: Endpoint) => seen.push(`add ${ep.id}`));
    set.on('remove', (ep: Endpoint) => seen.push(`remove ${ep.id}`));
    const c = set.add({ url: 'http://c:1', id: 'c' });
    expect(set.candidates()).to.include(c);
    expect(set.remove('c')).to.equal(true);
    expect(set.remove('c')).to.equal(false);
    expect(set.candidates()).to.not.include(c);
    expect(seen).to.deep.equal(['add c', 'remove c']);
  });

  it('refuses a second endpoint with the same id', () => {
    set = new EndpointSet(['http://a:1']);
    expect(() => set.add('http://a:1')).to.throw(BalancerConfigError).with.property('field', 'endpoint.id');
    expect(() => new EndpointSet(['http://a:1', 'http://a:1'])).to.throw(BalancerConfigError).with.property('field', 'endpoints[1].id');
  });

  it('returns the same candidate array until something changes', () => {
    set = new EndpointSet(urls(3));
    const first = set.candidates();
    expect(set.candidates()).to.equal(first);
    set.all()[0]!.healthy = false;
    expect(set.candidates()).to.not.equal(first);
    expect(set.candidates()).to.have.length(2);
  });

  it("emits 'down' and 'up' when health flips", () => {
    set = new EndpointSet(urls(3));
    const seen: string[] = [];
    set.on('down', (ep: Endpoint) => seen.push(`down ${ep.url.hostname}`));
    set.on('up', (ep: Endpoint) => seen.push(`up ${ep.url.hostname}`));
    set.all()[1]!.healthy = false;
    set.all()[1]!.healthy = false;
    set.all()[1]!.healthy = true;
    expect(seen).to.deep.equal(['down 10.0.0.2', 'up 10.0.0.2']);
  });

  it('never offers a draining endpoint, even in panic', () => {
    set = new EndpointSet(urls(3));
    const [a, b, c] = set.all();
    a!.draining = true;
    b!.healthy = false;
    c!.healthy = false;
    expect(set.panic).to.equal(true);
    expect(set.candidates()).to.deep.equal([b, c]);
  });

  describe('panic threshold', () => {
    it('uses every endpoint once fewer than half are available, and says so', () => {
      set = new EndpointSet(urls(4));
      const events: boolean[] = [];
      set.on('panic', (on: boolean) => events.push(on));
      const [a, b, c] = set.all();
      a!.healthy = false;
      b!.healthy = false;
      expect(set.candidates()).to.have.length(2); // 2 of 4 available: not under 50%
      c!.healthy = false;
      expect(set.candidates()).to.have.length(4);
      expect(set.panic).to.equal(true);
      c!.healthy = true;
      expect(set.candidates()).to.have.length(2);
      expect(events).to.deep.equal([true, false]);
    });

    it('can be turned off', () => {
      set = new EndpointSet(urls(4), { panicThreshold: 0 });
      for (const ep of set.all().slice(1)) ep.healthy = false;
      expect(set.candidates()).to.have.length(1);
      set.all()[0]!.healthy = false;
      expect(set.candidates()).to.have.length(0);
    });
  });

  describe('replace (discovery)', () => {
    it('adds new ids, removes missing ones, keeps the ones that stay', () => {
      set = new EndpointSet([{ url: 'http://a:1', id: 'a' }, { url: 'http://b:1', id: 'b' }]);
      const a = set.get('a')!;
      a.requests = 7;
      const { added, removed } = set.replace([{ url: 'http://a:1', id: 'a' }, { url: 'http://c:1', id: 'c' }]);
      expect(added.map((e) => e.id)).to.deep.equal(['c']);
      expect(removed.map((e) => e.id)).to.deep.equal(['b']);
      expect(set.get('a')).to.equal(a);
      expect(a.requests).to.equal(7);
    });

    it('replaces an endpoint whose url or weight changed', () => {
      set = new EndpointSet([{ url: 'http://a:1', id: 'a' }]);
      const old = set.get('a')!;
      set.replace([{ url: 'http://a:1', id: 'a', weight: 2 }]);
      expect(set.get('a')).to.not.equal(old);
      expect(set.get('a')!.weight).to.equal(2);
    });

    it('keeps an address endpoint whose host and port are unchanged, and replaces one that moved', () => {
      set = new EndpointSet([{ host: '10.0.0.1', port: 5432, id: 'db' }]);
      const old = set.get('db')!;
      set.replace([{ host: '10.0.0.1', port: 5432, id: 'db' }]);
      expect(set.get('db')).to.equal(old);
      const { removed } = set.replace([{ host: '10.0.0.1', port: 5433, id: 'db' }]);
      expect(removed).to.deep.equal([old]);
      expect(set.get('db')!.address).to.deep.equal({ host: '10.0.0.1', port: 5433 });
    });

    it('refuses a list with duplicate ids and changes nothing', () => {
      set = new EndpointSet(['http://a:1']);
      expect(() => set.replace(['http://b:1', 'http://b:1'])).to.throw(BalancerConfigError);
      expect(set.all().map((e) => e.id)).to.deep.equal(['http://a:1']);
    });
  });

  describe('slow start', () => {
    it('ramps an endpoint added at run time, not the initial ones', () => {
      set = new EndpointSet([{ url: 'http://a:1', weight: 10 }], { slowStart: '10s' });
      expect(set.all()[0]!.effectiveWeight).to.equal(10);
      const b = set.add({ url: 'http://b:1', weight: 10 });
      expect(b.effectiveWeight).to.be.below(2);
    });

    it('ramps an endpoint that comes back up', () => {
      set = new EndpointSet([{ url: 'http://a:1', weight: 10 }], { slowStart: '10s' });
      const a = set.all()[0]!;
      a.healthy = false;
      a.healthy = true;
      expect(a.effectiveWeight).to.be.below(2);
    });
  });

  describe('bad input', () => {
    const bad: Array<[string, () => unknown, string]> = [
      ['a non-array', () => new EndpointSet('http://a:1' as never), 'endpoints'],
      ['a malformed url', () => new EndpointSet(['http://a:1', 'nope']), 'endpoints[1].url'],
      ['a NaN weight', () => new EndpointSet([{ url: 'http://a:1', weight: Number.NaN }]), 'endpoints[0].weight'],
      ['a panic threshold above 1', () => new EndpointSet([], { panicThreshold: 2 }), 'panicThreshold'],
      ['a NaN panic threshold', () => new EndpointSet([], { panicThreshold: Number.NaN }), 'panicThreshold'],
      ['a garbled slow start', () => new EndpointSet([], { slowStart: 'soon' }), 'slowStart'],
      ['a negative ewma decay', () => new EndpointSet([], { ewmaDecay: -5 }), 'ewmaDecay'],
      ['an outlier string', () => new EndpointSet([], { outlier: 'yes' as never }), 'outlier'],
      ['zero consecutive failures', () => new EndpointSet([], { outlier: { consecutiveFailures: 0 } }), 'outlier.consecutiveFailures'],
      ['a percent above 100', () => new EndpointSet([], { outlier: { maxEjectionPercent: 150 } }), 'outlier.maxEjectionPercent'],
      ['a max below the base', () => new EndpointSet([], { outlier: { baseEjectionTime: '1m', maxEjectionTime: '1s' } }), 'outlier.maxEjectionTime'],
      ['options that are not an object', () => new EndpointSet([], 7 as EndpointSetOptions), 'options'],
      ['too many endpoints', () => new EndpointSet(Array.from({ length: 10_001 }, (_, i) => `http://h${i}:1`)), 'endpoints'],
    ];
    for (const [what, make, field] of bad) {
      it(`refuses ${what}, naming ${field}`, () => {
        expect(make).to.throw(BalancerConfigError).that.includes({ code: 'ERR_SCALEOUT_BALANCER_CONFIG', field });
      });
    }
  });
});
