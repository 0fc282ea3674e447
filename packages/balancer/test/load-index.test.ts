import { expect } from 'chai';
import { createAlgorithm, EndpointSet, LoadIndex, type Endpoint } from '../src/index.js';
import { endpoints, seeded, shares } from './helpers.js';

describe('LoadIndex and least-connections on a set', () => {
  it('keeps the least-loaded endpoint on top as loads change', () => {
    const eps = endpoints([1, 1, 1]);
    const index = new LoadIndex(eps, seeded(1));
    eps[0]!.inFlight = 3;
    eps[1]!.inFlight = 1;
    eps[2]!.inFlight = 2;
    for (const ep of eps) index.update(ep);
    expect(index.min()!.id).to.equal('B');
    eps[1]!.inFlight = 5;
    index.update(eps[1]!);
    expect(index.min()!.id).to.equal('C');
    eps[0]!.inFlight = 0;
    index.update(eps[0]!);
    expect(index.min()!.id).to.equal('A');
    expect(new LoadIndex([]).min()).to.equal(undefined);
  });

  it('weighs load: (inFlight + 1) / weight', () => {
    const eps = endpoints([1, 4]);
    const index = new LoadIndex(eps);
    eps[1]!.inFlight = 2; // 3/4 < 1/1
    index.update(eps[1]!);
    expect(index.min()!.id).to.equal('B');
  });

  describe('least-connections with a set', () => {
    let set: EndpointSet;
    afterEach(async () => set.close());

    const pickHold = (count: number): Endpoint[] => {
      const algo = createAlgorithm('least-connections');
      return Array.from({ length: count }, () => {
        const ep = algo.pick(set.candidates())!;
        ep.begin();
        return ep;
      });
    };

    it('sends each pick to the least loaded, following begin() and release()', () => {
      set = new EndpointSet(['http://a:1', 'http://b:1', 'http://c:1']);
      const [a, b, c] = set.all();
      const ra = a!.begin();
      a!.begin();
      b!.begin();
      const algo = createAlgorithm('least-connections');
      expect(algo.pick(set.candidates())).to.equal(c);
      c!.begin();
      c!.begin();
      expect(algo.pick(set.candidates())).to.equal(b); // a 2, b 1, c 2
      ra({ ok: true, latencyMs: 1 });
      b!.begin(); // a 1, b 2, c 2
      expect(algo.pick(set.candidates())).to.equal(a);
    });

    it('takes idle endpoints in a random order before any gets a second call', () => {
      set = new EndpointSet(Array.from({ length: 8 }, (_, i) => `http://h${i}:1`));
      const first = pickHold(8);
      expect(new Set(first).size).to.equal(8);
    });

    it('honours weights 1:2:3 under load', () => {
      set = new EndpointSet([
        { url: 'http://a:1', weight: 1 },
        { url: 'http://b:1', weight: 2 },
        { url: 'http://c:1', weight: 3 },
      ]);
      const ratios = shares(pickHold(10_000), set.all());
      [1 / 6, 2 / 6, 3 / 6].forEach((r, i) => expect(ratios[i]).to.be.closeTo(r, 0.02));
    });

    it('follows the set when endpoints go down and come back', () => {
      set = new EndpointSet(['http://a:1', 'http://b:1', 'http://c:1']);
      const [a, b] = set.all();
      const algo = createAlgorithm('least-connections');
      a!.inFlight = 0;
      b!.healthy = false;
      for (let i = 0; i < 20; i++) expect(algo.pick(set.candidates())).to.not.equal(b);
      b!.healthy = true;
      for (const ep of set.all()) if (ep !== b) ep.inFlight = 10;
      expect(algo.pick(set.candidates())).to.equal(b);
    });

    it('scans (weights ramping) while a slow start runs', () => {
      set = new EndpointSet([{ url: 'http://a:1', weight: 10 }], { slowStart: '1m' });
      const b = set.add({ url: 'http://b:1', weight: 10 }); // effective weight 1 for now
      set.all()[0]!.inFlight = 5; // a: 6/10 = 0.6; b: 1/1 = 1
      const algo = createAlgorithm('least-connections');
      expect(algo.pick(set.candidates())).to.not.equal(b);
    });
  });
});
