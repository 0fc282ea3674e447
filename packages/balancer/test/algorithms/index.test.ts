import { expect } from 'chai';
import { ALGORITHMS, createAlgorithm, BalancerError, type AlgorithmName, type Endpoint, type PickContext } from '../../src/index.js';
import { endpoints, seeded, sequence, shares } from '../helpers.js';

interface Case {
  title: string;
  algorithm: AlgorithmName;
  weights: number[];
  random?: () => number;
  /** Prepares the endpoints before picking (latency history, load). */
  setup?: (eps: Endpoint[]) => void;
  ctx?: (i: number) => PickContext;
  /** Picks hold their in-flight slot (no release) when true. */
  hold?: boolean;
  expected?: string[];
  expectedRatios?: number[];
}

const picks = (c: Case, count: number): { eps: Endpoint[]; got: Endpoint[] } => {
  const eps = endpoints(c.weights);
  c.setup?.(eps);
  const algo = createAlgorithm(c.algorithm, { random: c.random ?? seeded(42) });
  const got: Endpoint[] = [];
  for (let i = 0; i < count; i++) {
    const ep = algo.pick(eps, c.ctx?.(i));
    if (!ep) throw new Error(`pick ${i} returned nothing`);
    if (c.hold) ep.begin();
    got.push(ep);
  }
  return { eps, got };
};

const latencies = (...ms: number[]) => (eps: Endpoint[]) => eps.forEach((ep, i) => ep.observeLatency(ms[i]!));
const RATIO_123 = [1 / 6, 2 / 6, 3 / 6];

const cases: Case[] = [
  { title: 'round-robin cycles from index 0', algorithm: 'round-robin', weights: [1, 1, 1], random: sequence(0), expected: ['A', 'B', 'C', 'A', 'B', 'C', 'A'] },
  { title: 'round-robin starts at a random index', algorithm: 'round-robin', weights: [1, 1, 1], random: sequence(0.5), expected: ['B', 'C', 'A', 'B', 'C'] },
  { title: 'round-robin ignores weights', algorithm: 'round-robin', weights: [1, 2, 3], expectedRatios: [1 / 3, 1 / 3, 1 / 3] },
  {
    title: 'round-robin skips excluded endpoints',
    algorithm: 'round-robin',
    weights: [1, 1, 1],
    random: sequence(0),
    ctx: () => ({ exclude: new Set(['B']) }),
    expected: ['A', 'C', 'A', 'C'],
  },
  { title: 'weighted-round-robin is smooth (nginx {5,1,1})', algorithm: 'weighted-round-robin', weights: [5, 1, 1], expected: ['A', 'A', 'B', 'A', 'C', 'A', 'A', 'A', 'A', 'B', 'A', 'C', 'A', 'A'] },
  { title: 'weighted-round-robin interleaves {1,2,3}', algorithm: 'weighted-round-robin', weights: [1, 2, 3], expected: ['C', 'B', 'A', 'C', 'B', 'C'] },
  { title: 'weighted-round-robin honours 1:2:3', algorithm: 'weighted-round-robin', weights: [1, 2, 3], expectedRatios: RATIO_123 },
  {
    title: 'weighted-round-robin skips excluded endpoints',
    algorithm: 'weighted-round-robin',
    weights: [5, 1, 1],
    ctx: () => ({ exclude: new Set(['A']) }),
    expected: ['B', 'C', 'B', 'C'],
  },
  { title: 'least-connections breaks ties at random', algorithm: 'least-connections', weights: [1, 1, 1], random: sequence(0.9, 0.9, 0), hold: true, expected: ['C', 'B', 'A', 'A', 'C', 'B'] },
  { title: 'least-connections weighs in-flight (1:2:3)', algorithm: 'least-connections', weights: [1, 2, 3], random: sequence(0), hold: true, expected: ['C', 'B', 'C', 'A', 'B', 'C'] },
  { title: 'least-connections honours 1:2:3 under load', algorithm: 'least-connections', weights: [1, 2, 3], hold: true, expectedRatios: RATIO_123 },
  {
    title: 'least-connections picks the least loaded',
    algorithm: 'least-connections',
    weights: [1, 1, 1],
    setup: (eps) => [5, 0, 2].forEach((n, i) => (eps[i]!.inFlight = n)),
    expected: ['B', 'B', 'B'],
  },
  {
    title: 'least-connections spreads idle ties evenly',
    algorithm: 'least-connections',
    weights: [1, 1, 1, 1],
    expectedRatios: [0.25, 0.25, 0.25, 0.25],
  },
  {
    // random draws: (i=0 → A, j=0 → B), (i=1 → B, j=1 → C), (i=2 → C, j=0 → A)
    title: 'least-response-time keeps the cheaper of two',
    algorithm: 'least-response-time',
    weights: [1, 1, 1],
    random: sequence(0, 0, 0.4, 0.6, 0.7, 0),
    setup: latencies(10, 50, 100),
    expected: ['A', 'B', 'A'],
  },
  {
    title: 'least-response-time multiplies latency by in-flight + 1',
    algorithm: 'least-response-time',
    weights: [1, 1],
    random: sequence(0, 0),
    setup: (eps) => {
      latencies(10, 25)(eps);
      eps[0]!.inFlight = 3; // 10 × 4 = 40 > 25 × 1
    },
    expected: ['B', 'B'],
  },
  {
    title: 'least-response-time probes an idle endpoint with no history, then penalises it',
    algorithm: 'least-response-time',
    weights: [1, 1],
    random: sequence(0, 0),
    setup: (eps) => eps[0]!.observeLatency(5),
    hold: true,
    expected: ['B', 'A', 'A', 'A'],
  },
  { title: 'least-response-time honours 1:2:3 under load', algorithm: 'least-response-time', weights: [1, 2, 3], setup: latencies(10, 10, 10), hold: true, expectedRatios: RATIO_123 },
  {
    title: 'least-response-time avoids excluded endpoints',
    algorithm: 'least-response-time',
    weights: [1, 1, 1],
    setup: latencies(1, 50, 50),
    ctx: () => ({ exclude: new Set(['A']) }),
    expectedRatios: [0, 0.5, 0.5],
  },
  {
    title: 'ip-hash sends a key to the same endpoint every time',
    algorithm: 'ip-hash',
    weights: [1, 1, 1],
    ctx: () => ({ hashKey: '203.0.113.7' }),
    expected: ['B', 'B', 'B', 'B'],
  },
  {
    title: 'ip-hash maps fixed keys to fixed endpoints (stable across versions and processes)',
    algorithm: 'ip-hash',
    weights: [1, 1, 1],
    ctx: (i) => ({ hashKey: `10.1.2.${i}` }),
    expected: ['A', 'A', 'B', 'A', 'A', 'C', 'B', 'A'],
  },
  { title: 'ip-hash honours 1:2:3 over many keys', algorithm: 'ip-hash', weights: [1, 2, 3], ctx: (i) => ({ hashKey: `user-${i}` }), expectedRatios: RATIO_123 },
  {
    title: 'ip-hash moves an excluded endpoint\'s key elsewhere',
    algorithm: 'ip-hash',
    weights: [1, 1, 1],
    ctx: () => ({ hashKey: '203.0.113.7', exclude: new Set(['B']) }),
    expected: ['C', 'C', 'C'],
  },
  { title: 'ip-hash without a key picks at random', algorithm: 'ip-hash', weights: [1, 1], expectedRatios: [0.5, 0.5] },
];

describe('algorithms', () => {
  for (const c of cases) {
    it(c.title, () => {
      if (c.expected) {
        const { got } = picks(c, c.expected.length);
        expect(got.map((ep) => ep.id)).to.deep.equal(c.expected);
      }
      if (c.expectedRatios) {
        const { eps, got } = picks(c, 10_000);
        const ratios = shares(got, eps);
        ratios.forEach((r, i) => expect(r, `share of ${eps[i]!.id} (all: ${ratios.map((x) => x.toFixed(3)).join(', ')})`).to.be.closeTo(c.expectedRatios![i]!, 0.02));
      }
    });
  }

  for (const name of ALGORITHMS) {
    describe(name, () => {
      it('returns undefined for no candidates', () => {
        expect(createAlgorithm(name).pick([])).to.equal(undefined);
        expect(createAlgorithm(name).pick([], { hashKey: 'k', exclude: new Set(['A']) })).to.equal(undefined);
      });

      it('returns the only candidate even when it is excluded', () => {
        const [a] = endpoints([1]);
        expect(createAlgorithm(name).pick([a!], { hashKey: 'k', exclude: new Set(['A']) })).to.equal(a);
      });

      it('never returns an excluded endpoint while another exists', () => {
        const eps = endpoints([1, 1, 1, 1]);
        const algo = createAlgorithm(name);
        const exclude = new Set(['A', 'C']);
        for (let i = 0; i < 200; i++) expect(algo.pick(eps, { exclude, hashKey: `k${i}` })!.id).to.be.oneOf(['B', 'D']);
      });

      it('follows a changing candidate list', () => {
        const eps = endpoints([1, 1, 1]);
        const algo = createAlgorithm(name);
        for (let i = 0; i < 10; i++) algo.pick(eps, { hashKey: `k${i}` });
        const fewer = eps.slice(1);
        for (let i = 0; i < 50; i++) expect(fewer).to.include(algo.pick(fewer, { hashKey: `k${i}` }));
      });

      it('has its name', () => {
        expect(createAlgorithm(name).name).to.equal(name);
      });
    });
  }

  describe('createAlgorithm', () => {
    for (const bad of ['random', '', 'ROUND-ROBIN', 'constructor', '__proto__', 'toString', 42, null, undefined, {}]) {
      it(`refuses ${JSON.stringify(bad) ?? String(bad)} with a coded error naming the field`, () => {
        expect(() => createAlgorithm(bad as AlgorithmName))
          .to.throw(BalancerError)
          .that.includes({ code: 'ERR_SCALEOUT_BALANCER_CONFIG', field: 'algorithm' });
      });
    }

    it('lists the five algorithms', () => {
      expect([...ALGORITHMS].sort()).to.deep.equal(['ip-hash', 'least-connections', 'least-response-time', 'round-robin', 'weighted-round-robin']);
    });
  });
});
