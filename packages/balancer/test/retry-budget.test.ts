import { expect } from 'chai';
import { backoffDelay, RetryBudget } from '../src/index.js';

describe('RetryBudget', () => {
  it('allows retries up to the ratio of requests plus the floor', () => {
    let now = 1_000_000;
    const budget = new RetryBudget(0.2, 1, 10_000, () => now); // floor: 1/s × 10 s = 10
    for (let i = 0; i < 100; i++) budget.deposit();
    let granted = 0;
    while (budget.tryWithdraw()) granted++;
    expect(granted).to.equal(30);
    expect(budget.stats()).to.deep.equal({ requests: 100, retries: 30, available: 0, refused: 1 });
    now += 500;
    budget.deposit();
    budget.deposit();
    budget.deposit();
    budget.deposit();
    budget.deposit();
    expect(budget.tryWithdraw()).to.equal(true); // five more requests earn one more retry
    expect(budget.tryWithdraw()).to.equal(false);
  });

  it('forgets what left the window', () => {
    let now = 0;
    const budget = new RetryBudget(0.1, 0, 1000, () => now);
    for (let i = 0; i < 50; i++) budget.deposit();
    for (let i = 0; i < 5; i++) expect(budget.tryWithdraw()).to.equal(true);
    expect(budget.tryWithdraw()).to.equal(false);
    now += 1000; // the whole window slid by
    expect(budget.stats()).to.include({ requests: 0, retries: 0 });
    expect(budget.tryWithdraw()).to.equal(false);
    for (let i = 0; i < 10; i++) budget.deposit();
    expect(budget.tryWithdraw()).to.equal(true);
  });

  it('slides slot by slot', () => {
    let now = 0;
    const budget = new RetryBudget(1, 0, 1000, () => now);
    budget.deposit(); // slot 0
    now = 500;
    budget.deposit(); // slot 5
    now = 1050; // slot 10: slot 0 is gone, slot 5 stays
    expect(budget.stats().requests).to.equal(1);
    now = 10_000_000; // a long idle gap clears everything
    expect(budget.stats().requests).to.equal(0);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, with full jitter', () => {
    const top = () => 0.999999;
    expect(backoffDelay(1, 25, 250, top)).to.equal(24);
    expect(backoffDelay(2, 25, 250, top)).to.equal(49);
    expect(backoffDelay(3, 25, 250, top)).to.equal(99);
    expect(backoffDelay(10, 25, 250, top)).to.equal(249);
    expect(backoffDelay(3, 25, 250, () => 0)).to.equal(0);
  });
});
