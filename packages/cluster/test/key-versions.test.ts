import { expect } from 'chai';
import fc from 'fast-check';
import { canonicalJson, dominates, join, type KeyVersion, type LiveState } from '../src/key-versions.js';

const kv = (entries: Array<[string, number, string, boolean?]>) => new Map<string, KeyVersion>(entries.map(([k, t, n, del]) => [k, { t, c: 0, n, del: del ?? false }]));
const state = (t: number, json: object, keys?: Map<string, KeyVersion>, exp = 1000): LiveState => ({ t, c: 0, n: 'a', exp, json: JSON.stringify(json), kv: keys });

describe('key versions', () => {
  it('merges concurrent patches of different keys, and the later write of the same key', () => {
    const base = { x: 0 };
    const a = state(1, { ...base, p: 1, same: 'a' }, kv([['p', 2, 'a'], ['same', 2, 'a']]));
    const b = state(1, { ...base, q: 2, same: 'b' }, kv([['q', 3, 'b'], ['same', 3, 'b']]));
    expect(JSON.parse(join(a, b).json)).to.deep.equal({ p: 1, q: 2, same: 'b', x: 0 });
    expect(join(a, b)).to.deep.equal(join(b, a));
  });

  it('lets a newer full write replace older keys, and keeps patches newer than it', () => {
    const patched = state(1, { old: 1, late: 2 }, kv([['late', 5, 'b']]));
    const full = state(4, { fresh: 3 });
    expect(JSON.parse(join(patched, full).json)).to.deep.equal({ fresh: 3, late: 2 });
    expect(dominates(full, patched)).to.equal(false);
    expect(dominates(join(full, patched), patched)).to.equal(true);
  });

  it('keeps a removal newer than the value it removes', () => {
    const removed = state(1, { a: 1 }, kv([['gone', 4, 'a', true]]));
    const set = state(1, { a: 1, gone: 'x' }, kv([['gone', 3, 'b']]));
    expect(JSON.parse(join(removed, set).json)).to.deep.equal({ a: 1 });
  });

  it('keeps a key named __proto__ as a plain key', () => {
    const a = state(1, JSON.parse('{"__proto__":{"x":1},"a":1}') as object, kv([['a', 2, 'a']]));
    const b = state(1, JSON.parse('{"__proto__":{"x":1},"b":2}') as object, kv([['b', 3, 'b']]));
    expect(join(a, b).json).to.equal('{"__proto__":{"x":1},"a":1,"b":2}');
    expect(canonicalJson(JSON.parse('{"z":1,"__proto__":2}') as Record<string, unknown>)).to.equal('{"__proto__":2,"z":1}');
  });

  it('is idempotent, commutative and associative', () => {
    // States derived from one base by patches with unique versions, as a cluster produces them.
    const patchState = fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c'), t: fc.integer({ min: 2, max: 40 }), del: fc.boolean() }), { maxLength: 4 });
    const build = (patches: Array<{ key: string; t: number; del: boolean }>, node: string): LiveState => {
      const obj: Record<string, unknown> = { base: 1 };
      const keys = new Map<string, KeyVersion>();
      for (const p of patches) {
        if (p.del) delete obj[p.key];
        else obj[p.key] = `${node}${p.t}`;
        keys.set(p.key, { t: p.t, c: 0, n: node, del: p.del });
      }
      return { t: 1, c: 0, n: 'base', exp: 1000, json: canonicalJson(obj), kv: keys.size ? keys : undefined };
    };
    fc.assert(
      fc.property(patchState, patchState, patchState, (pa, pb, pc) => {
        const [a, b, c] = [build(pa, 'x'), build(pb, 'y'), build(pc, 'z')];
        expect(join(a, a).json).to.equal(join(a, a).json);
        expect(dominates(join(a, a), a)).to.equal(true);
        expect(join(a, b)).to.deep.equal(join(b, a));
        expect(join(join(a, b), c)).to.deep.equal(join(a, join(b, c)));
      }),
    );
  });
});
