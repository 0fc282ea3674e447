import FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { createAlgorithm, EndpointSet } from '../../src/index.js';
import { endpoints } from '../helpers.js';

const order = (weights: number[], count: number): string => {
  const eps = endpoints(weights);
  const algo = createAlgorithm('weighted-round-robin');
  return Array.from({ length: count }, () => algo.pick(eps)!.id).join('');
};

describe('weighted-round-robin', () => {
  it('gives the same order from its precomputed cycle and from the per-pick loop', () => {
    // whole weights use the cycle; the same weights scaled by 0.5 are fractional and use the loop
    expect(order([5, 1, 1], 14)).to.equal('AABACAAAABACAA');
    expect(order([2.5, 0.5, 0.5], 14)).to.equal('AABACAAAABACAA');
    expect(order([10, 2, 2], 14)).to.equal('AABACAAAABACAA'); // gcd 2
  });

  it('handles weights too large to precompute', () => {
    const picks = order([100_000, 1, 1], 100_002);
    expect(picks.split('B').length - 1).to.equal(1);
    expect(picks.split('C').length - 1).to.equal(1);
  });

  it('lowers a slow-starting endpoint and returns to the cycle after', async () => {
    const clock = FakeTimers.install({ toFake: ['Date'] });
    const set = new EndpointSet([{ url: 'http://a:1', weight: 5 }], { slowStart: 150 });
    try {
      const b = set.add({ url: 'http://b:1', weight: 5 });
      const algo = createAlgorithm('weighted-round-robin');
      const early = Array.from({ length: 100 }, () => algo.pick(set.candidates())).filter((e) => e === b).length;
      expect(early).to.be.below(30);
      clock.tick(200);
      const late = Array.from({ length: 100 }, () => algo.pick(set.candidates())).filter((e) => e === b).length;
      expect(late).to.equal(50);
    } finally {
      await set.close();
      clock.uninstall();
    }
  });
});
