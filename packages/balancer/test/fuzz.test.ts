import { expect } from 'chai';
import fc from 'fast-check';
import { parseDuration as parseCoreDuration } from '@scaleout/core';
import { ALGORITHMS, BalancerConfigError, createAlgorithm, createBalancer, Endpoint, EndpointSet, parseDuration } from '../src/index.js';

/** Anything a caller (or a parsed config file) might hand over. */
const anything = fc.oneof(
  fc.anything(),
  fc.string(),
  fc.webUrl(),
  fc.record({ url: fc.oneof(fc.webUrl(), fc.string()), id: fc.option(fc.string()), weight: fc.option(fc.oneof(fc.double(), fc.integer(), fc.string())) }),
);

describe('bad input, generated', () => {
  it('Endpoint accepts a value or refuses it with a coded error, never anything else', () => {
    fc.assert(
      fc.property(anything, (value) => {
        try {
          const ep = new Endpoint(value as never);
          expect(ep.weight).to.be.greaterThan(0);
          expect(['http:', 'https:']).to.include(ep.url.protocol);
        } catch (err) {
          expect(err).to.be.instanceOf(BalancerConfigError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('createBalancer accepts options or refuses them with a coded error naming a field', () => {
    const options = fc.record(
      {
        endpoints: fc.oneof(fc.array(anything, { maxLength: 4 }), anything),
        algorithm: fc.oneof(fc.constantFrom(...ALGORITHMS), fc.string()),
        timeout: fc.oneof(fc.integer(), fc.string(), fc.double()),
        retry: fc.oneof(fc.constant(false), fc.record({ attempts: fc.integer(), budget: fc.double() }, { requiredKeys: [] })),
        panicThreshold: fc.double(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(options, (o) => {
        try {
          void createBalancer(o as never).close(); // no health checks or discovery: nothing to wait for
        } catch (err) {
          expect(err).to.be.instanceOf(BalancerConfigError);
          expect((err as BalancerConfigError).field).to.be.a('string').and.not.equal('');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('parseDuration returns whole milliseconds or refuses', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.double(), fc.integer(), fc.anything()), (v) => {
        try {
          const ms = parseDuration(v, 'd');
          expect(Number.isInteger(ms) && ms >= 0).to.equal(true);
        } catch (err) {
          expect(err).to.be.instanceOf(BalancerConfigError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('parseDuration reads the same grammar as core, refusing with its own code', () => {
    for (const v of [0, 250, '250', '250ms', '1.5s', '2 m', '1h', '1d', '-1s', 'soon', '', 2 ** 31, null]) {
      let core: number | string;
      try {
        core = parseCoreDuration(v, 'd');
      } catch (err) {
        core = (err as Error).name;
      }
      let balancer: number | string;
      try {
        balancer = parseDuration(v, 'd');
      } catch (err) {
        expect(err).to.be.instanceOf(BalancerConfigError).that.includes({ code: 'ERR_SCALEOUT_BALANCER_CONFIG', field: 'd' });
        balancer = 'ConfigError';
      }
      expect(balancer, String(v)).to.equal(core);
    }
    expect(parseDuration('1d', 'd')).to.equal(86_400_000);
  });

  it('every algorithm picks a candidate, and a non-excluded one while one exists, for any set and key', () => {
    const scenario = fc.record({
      weights: fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 12 }),
      excluded: fc.array(fc.nat(11), { maxLength: 12 }),
      keys: fc.array(fc.oneof(fc.string(), fc.ipV4(), fc.ipV6()), { minLength: 1, maxLength: 20 }),
      loads: fc.array(fc.nat(50), { maxLength: 12 }),
    });
    fc.assert(
      fc.property(fc.constantFrom(...ALGORITHMS), scenario, (name, s) => {
        const set = new EndpointSet(s.weights.map((weight, i) => ({ url: `http://10.0.0.${i + 1}:80`, id: `e${i}`, weight })), { outlier: false });
        s.loads.forEach((n, i) => {
          const ep = set.all()[i];
          if (ep) ep.inFlight = n;
        });
        const candidates = set.candidates();
        const exclude = new Set(s.excluded.map((i) => `e${i}`));
        const someLeft = candidates.some((ep) => !exclude.has(ep.id));
        const algo = createAlgorithm(name);
        for (const hashKey of s.keys) {
          const ep = algo.pick(candidates, { hashKey, exclude });
          expect(candidates).to.include(ep);
          if (someLeft) expect(exclude.has(ep!.id)).to.equal(false);
        }
        void set.close();
      }),
      { numRuns: 300 },
    );
  });
});
