import { expect } from 'chai';
import { prefixPattern } from '../src/redis-scan.js';

describe('prefixPattern', () => {
  it('matches everything under the prefix', () => {
    expect(prefixPattern('sess:')).to.equal('sess:*');
    expect(prefixPattern('')).to.equal('*');
  });

  it('escapes the glob characters a prefix may hold, so they match themselves only', () => {
    expect(prefixPattern('a*b?c[d]e\\f:')).to.equal('a\\*b\\?c\\[d\\]e\\\\f:*');
  });
});
