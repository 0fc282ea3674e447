import { expect } from 'chai';
import { WrittenUsers } from '../src/written-users.js';

describe('WrittenUsers', () => {
  it('covers a session only for the user written and up to the time it lives', () => {
    const w = new WrittenUsers();
    w.remember('s', 'ada', 1000);
    expect(w.covers('s', 'ada', 999)).to.equal(true);
    expect(w.covers('s', 'ada', 1000)).to.equal(true);
    expect(w.covers('s', 'ada', 1001), 'a longer lifetime').to.equal(false);
    expect(w.covers('s', 'bob', 10), 'another user').to.equal(false);
    expect(w.covers('t', 'ada', 10), 'another session').to.equal(false);
    w.extend('s', 2000);
    expect(w.covers('s', 'ada', 2000)).to.equal(true);
    w.extend('t', 2000);
    expect(w.covers('t', 'ada', 10), 'extending an unknown entry remembers nothing').to.equal(false);
    w.forget('s');
    expect(w.covers('s', 'ada', 10)).to.equal(false);
  });

  it('holds at most its bound, forgetting the oldest written first', () => {
    const w = new WrittenUsers(3);
    for (const id of ['a', 'b', 'c']) w.remember(id, 'u', 100);
    w.remember('a', 'u', 100); // written again: now the newest
    w.remember('d', 'u', 100);
    expect(w.size).to.equal(3);
    expect(['a', 'b', 'c', 'd'].filter((id) => w.covers(id, 'u', 100))).to.deep.equal(['a', 'c', 'd']);
    w.clear();
    expect(w.size).to.equal(0);
  });
});
