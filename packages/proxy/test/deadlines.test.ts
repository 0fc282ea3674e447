import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { Deadlines, Expiring } from '../src/deadlines.js';

/** An entry that records when it expired, and lets its `expire()` act on the list. */
class Entry extends Expiring {
  expiredAt: number | undefined;
  constructor(
    readonly name: string,
    readonly log: string[],
    readonly then?: () => void,
  ) {
    super();
  }
  expire(): void {
    this.expiredAt = performance.now();
    this.log.push(this.name);
    this.then?.();
  }
}

/** Waits until `log` holds `n` names (timers may run late on a busy machine, never early). */
async function expired(log: string[], n: number): Promise<void> {
  const until = performance.now() + 5000;
  while (log.length < n && performance.now() < until) await sleep(5);
}

describe('Deadlines: one timer for many waits of one length', () => {
  let list: Deadlines | undefined;
  afterEach(() => list?.close());

  it('expires entries in the order they were added, each after its own full wait', async () => {
    list = new Deadlines(60);
    const log: string[] = [];
    const a = new Entry('a', log);
    const aAdded = performance.now();
    list.add(a);
    await sleep(20);
    const b = new Entry('b', log);
    const bAdded = performance.now();
    list.add(b);
    await expired(log, 2);
    expect(log).to.deep.equal(['a', 'b']);
    expect(a.expiredAt! - aAdded).to.be.at.least(60);
    expect(b.expiredAt! - bAdded, 'b waits its own time, not the timer armed for a').to.be.at.least(60);
  });

  it('forgets a removed entry, whether it was the oldest, the newest or in between', async () => {
    list = new Deadlines(40);
    const log: string[] = [];
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new Entry(n, log));
    for (const e of [a!, b!, c!, d!]) list.add(e);
    list.remove(a!);
    list.remove(c!);
    list.remove(d!);
    list.remove(d!); // twice: nothing
    await expired(log, 1);
    await sleep(80); // the others' deadlines are long past
    expect(log).to.deep.equal(['b']);
  });

  it('keeps counting for an entry added after the list emptied, and starts one added again anew', async () => {
    list = new Deadlines(60);
    const log: string[] = [];
    const a = new Entry('a', log);
    list.add(a);
    list.remove(a);
    await sleep(80); // the timer wakes to an empty list
    const b = new Entry('b', log);
    list.add(b);
    await sleep(30);
    const again = performance.now();
    list.add(b);
    await expired(log, 1);
    expect(log).to.deep.equal(['b']);
    expect(b.expiredAt! - again, 'counted from the second add').to.be.at.least(60);
  });

  it("lets an entry's expiry add another, which then waits its full time", async () => {
    list = new Deadlines(40);
    const log: string[] = [];
    let nextAdded = 0;
    const next = new Entry('next', log);
    const first = new Entry('first', log, () => {
      nextAdded = performance.now();
      list!.add(next);
    });
    list.add(first);
    await expired(log, 2);
    expect(log).to.deep.equal(['first', 'next']);
    expect(next.expiredAt! - nextAdded).to.be.at.least(40);
  });

  it('close() forgets every entry, and is safe to call twice', async () => {
    list = new Deadlines(30);
    const log: string[] = [];
    list.add(new Entry('a', log));
    list.close();
    list.close();
    await sleep(80);
    expect(log).to.deep.equal([]);
  });
});
