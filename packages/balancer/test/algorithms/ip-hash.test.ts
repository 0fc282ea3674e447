import { expect } from 'chai';
import { buildMaglevTable, Endpoint, IpHash, maglevTableSize } from '../../src/index.js';

const KEYS = Array.from({ length: 100_000 }, (_, i) => `client-${i}`);

const nodes = (n: number, from = 0): Endpoint[] =>
  Array.from({ length: n }, (_, i) => new Endpoint({ id: `node-${from + i}`, url: `http://10.0.${(from + i) >> 8}.${(from + i) & 255}:3000` }));

const assign = (eps: readonly Endpoint[], algo = new IpHash()): string[] => KEYS.map((hashKey) => algo.pick(eps, { hashKey })!.id);

const moved = (a: readonly string[], b: readonly string[]): number => a.filter((id, i) => id !== b[i]).length;

describe('ip-hash consistent hashing (Maglev)', () => {
  const ten = nodes(10);
  const base = assign(ten);

  it('balances 100,000 keys over 10 endpoints within max/average 1.05', () => {
    const counts = new Map<string, number>();
    for (const id of base) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(counts.size).to.equal(10);
    const ratio = Math.max(...counts.values()) / (KEYS.length / 10);
    expect(ratio).to.be.at.most(1.05);
  });

  it('moves at most 1/11 + 2% of keys when an 11th endpoint joins', () => {
    const after = assign([...ten, ...nodes(1, 10)]);
    const share = moved(base, after) / KEYS.length;
    expect(share).to.be.at.most(1 / 11 + 0.02);
    expect(share).to.be.at.least(1 / 11 - 0.02); // the new one does get its share
    // keys that move go to the newcomer only
    const wrong = after.filter((id, i) => id !== base[i] && id !== 'node-10').length;
    expect(wrong / KEYS.length).to.be.below(0.02);
  });

  it("moves only about the removed endpoint's keys when one leaves (at most 2×, Maglev's bound)", () => {
    const after = assign(ten.filter((ep) => ep.id !== 'node-3'));
    const own = base.filter((id) => id === 'node-3').length;
    expect(moved(base, after)).to.be.at.most(2 * own);
    // every key of the removed endpoint moved
    expect(after.some((id, i) => base[i] === 'node-3' && id === 'node-3')).to.equal(false);
  });

  it('maps every key to the same endpoint in another instance given the endpoints in another order', () => {
    const other = nodes(10).reverse(); // separate objects, same ids
    expect(assign(other, new IpHash())).to.deep.equal(base);
  });

  it('keeps the mapping when the same endpoints come back in a new array', () => {
    const algo = new IpHash();
    const first = assign(ten, algo);
    expect(assign([...ten], algo)).to.deep.equal(first);
  });

  it('fills the table in proportion to weight, within one slot', () => {
    const table = buildMaglevTable(['a', 'b', 'c'], [1, 2, 3], 65_537);
    const counts = [0, 0, 0];
    for (const i of table) counts[i]!++;
    expect(counts.reduce((x, y) => x + y)).to.equal(65_537);
    expect(Math.abs(counts[0]! - 65_537 / 6)).to.be.at.most(2);
    expect(Math.abs(counts[1]! - (2 * 65_537) / 6)).to.be.at.most(2);
  });

  it('picks a prime table of at least 100 slots per endpoint', () => {
    expect(maglevTableSize(10)).to.equal(65_537);
    expect(maglevTableSize(1000)).to.equal(131_071);
  });

  it('maps keys the same way when a list comes back after a filtered copy (cached tables)', () => {
    const algo = new IpHash();
    const first = assign(ten, algo);
    const without = ten.filter((ep) => ep.id !== 'node-2');
    for (let i = 0; i < 3; i++) {
      algo.pick(without, { hashKey: 'x' });
      algo.pick(ten, { hashKey: 'x' });
    }
    expect(assign(ten, algo)).to.deep.equal(first);
    expect(KEYS.slice(0, 1000).every((k) => algo.pick(without, { hashKey: k })!.id !== 'node-2')).to.equal(true);
  });
});
