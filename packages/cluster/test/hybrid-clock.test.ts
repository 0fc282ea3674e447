import { expect } from 'chai';
import { compareVersions, HybridClock } from '../src/hybrid-clock.js';

describe('HybridClock', () => {
  it('stamps strictly increasing versions even when the wall clock stands still or goes back', () => {
    let wall = 1000;
    const clock = new HybridClock('a', 60_000, () => wall);
    const v1 = clock.now();
    const v2 = clock.now();
    wall = 500;
    const v3 = clock.now();
    expect(compareVersions(v2, v1)).to.be.above(0);
    expect(compareVersions(v3, v2)).to.be.above(0);
  });

  it('orders a write after every version it has observed, whatever its own clock says', () => {
    const slow = new HybridClock('a', 60_000, () => 1000);
    slow.observe(5000, 3);
    const v = slow.now();
    expect(compareVersions(v, { t: 5000, c: 3, n: 'zzz' })).to.be.above(0);
  });

  it('is not dragged into the future by a peer clock beyond maxDrift', () => {
    const clock = new HybridClock('a', 1000, () => 1000);
    clock.observe(1_000_000, 0);
    expect(clock.now().t).to.equal(1000);
  });

  it('breaks ties between concurrent writes by node id, the same way on every node', () => {
    expect(compareVersions({ t: 1, c: 0, n: 'a' }, { t: 1, c: 0, n: 'b' })).to.be.below(0);
    expect(compareVersions({ t: 1, c: 0, n: 'b' }, { t: 1, c: 0, n: 'a' })).to.be.above(0);
    expect(compareVersions({ t: 1, c: 0, n: 'a' }, { t: 1, c: 0, n: 'a' })).to.equal(0);
  });
});
