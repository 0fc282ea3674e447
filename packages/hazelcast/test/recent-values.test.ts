import { expect } from 'chai';
import { RecentValues } from '../src/recent-values.js';

describe('RecentValues', () => {
  it('hands a remembered value out once', () => {
    const r = new RecentValues();
    r.remember('a', '{"x":1}');
    expect(r.take('a')).to.equal('{"x":1}');
    expect(r.take('a')).to.equal(undefined);
    expect(r.bytes).to.equal(0);
  });

  it('keeps within its byte bound, dropping the oldest first, and skips values too large', () => {
    const r = new RecentValues(10, 6);
    r.remember('a', 'aaaa');
    r.remember('b', 'bbbb');
    r.remember('c', 'cccc');
    expect(r.bytes).to.equal(8);
    expect(r.take('a')).to.equal(undefined);
    r.remember('big', 'x'.repeat(7));
    expect(r.take('big')).to.equal(undefined);
    expect(r.take('c')).to.equal('cccc');
  });

  it('replaces the value of an id read again', () => {
    const r = new RecentValues();
    r.remember('a', 'old');
    r.remember('a', 'newer');
    expect(r.bytes).to.equal(5);
    expect(r.take('a')).to.equal('newer');
  });
});
