import { expect } from 'chai';
import fc from 'fast-check';
import { compareStates, ReplicaState, type EntryState } from '../src/replica-state.js';

const FUTURE = Date.now() + 3_600_000;
const live = (t: number, n = 'a', exp = FUTURE, json = `{"t":${t}}`): EntryState => ({ t, c: 0, n, exp, json });
const dead = (t: number, n = 'a', exp = FUTURE): EntryState => ({ t, c: 0, n, exp, json: null });

describe('ReplicaState', () => {
  it('keeps the newest version and ignores older ones', () => {
    const s = new ReplicaState();
    expect(s.merge('x', live(2))).to.equal(true);
    expect(s.merge('x', live(1))).to.equal(false);
    expect(s.peek('x')!.t).to.equal(2);
  });

  it('lets a tombstone beat any live state, even a newer one', () => {
    const s = new ReplicaState();
    s.merge('x', dead(1));
    expect(s.merge('x', live(99, 'z'))).to.equal(false);
    expect(s.peek('x')!.json).to.equal(null);
    expect(compareStates(dead(1), live(99))).to.be.above(0);
  });

  it('refuses states that have already expired', () => {
    const s = new ReplicaState();
    expect(s.merge('x', live(1, 'a', Date.now() - 1))).to.equal(false);
    expect(s.count).to.equal(0);
  });

  it('extends the expiry of the same write only', () => {
    const s = new ReplicaState();
    s.merge('x', live(5));
    expect(s.extend('x', { t: 4, c: 0, n: 'a' }, FUTURE + 10)).to.equal(false);
    expect(s.extend('x', { t: 5, c: 0, n: 'a' }, FUTURE + 10)).to.equal(true);
    expect(s.peek('x')!.exp).to.equal(FUTURE + 10);
  });

  it('sweeps expired entries and tombstones, freeing them from the digest', () => {
    const s = new ReplicaState();
    const empty = Buffer.from(s.digest().buffer).toString('hex');
    const soon = Date.now() + 50;
    s.merge('x', live(1, 'a', soon));
    s.merge('y', dead(1, 'a', soon));
    expect(s.sweep(soon + 1)).to.equal(2);
    expect(s.count).to.equal(0);
    expect(Buffer.from(s.digest().buffer).toString('hex')).to.equal(empty);
  });

  it('converges to the same state and digest whatever order the same writes arrive in', () => {
    const state = fc.record({
      id: fc.constantFrom('a', 'b', 'c'),
      t: fc.integer({ min: 1, max: 5 }),
      n: fc.constantFrom('n1', 'n2'),
      exp: fc.integer({ min: 0, max: 3 }).map((k) => FUTURE + k * 1000),
      dead: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(state, { maxLength: 30 }), (writes) => {
        const apply = (order: typeof writes) => {
          const s = new ReplicaState();
          for (const w of order) s.merge(w.id, { t: w.t, c: 0, n: w.n, exp: w.exp, json: w.dead ? null : `${w.t}${w.n}` });
          return Buffer.from(s.digest().buffer).toString('hex');
        };
        expect(apply([...writes].reverse())).to.equal(apply(writes));
      }),
    );
  });
});
