import { debuglog } from 'node:util';
import { compareVersions } from './hybrid-clock.js';
import { kvHashOf, MessageType, readEntries, readIds, readSummary, writeIds, writeSummaryItem, type SummaryItem } from './messages.js';
import { chunked, sendEntries, type NodeLink } from './node-link.js';
import { bucketOf, compareStates, DIGEST_BUCKETS, type EntryState } from './replica-state.js';
import { Reader, WireError, Writer } from './wire.js';

const debug = debuglog('scaleout:anti-entropy');

/** Bytes a SUMMARY item takes at most, beyond the id. */
const SUMMARY_ITEM = 2 + 8 + 4 + 1 + 8 + 1 + 4;

function asState(item: SummaryItem): EntryState {
  // Only the order matters here: a non-null marker stands for a live value.
  return { t: item.t, c: item.c, n: item.n, exp: item.exp, json: item.dead ? null : '' };
}

/** Wall time of the latest write in a state: its full write or a later patch. */
function lastWrite(e: EntryState): number {
  let t = e.t;
  if (e.kv) for (const v of e.kv.values()) if (v.t > t) t = v.t;
  return t;
}

/**
 * How `mine` relates to what a peer summarized: positive when mine is newer, negative when
 * theirs is, 0 when the same, and `NaN` when both hold patches the other lacks (each must send
 * its state, and both end with the merge).
 */
function relation(mine: EntryState, theirs: SummaryItem): number {
  const myHash = kvHashOf(mine);
  if (mine.json !== null && !theirs.dead && (myHash !== 0 || theirs.kvHash !== 0)) {
    const same = compareVersions(mine, theirs) === 0 && mine.exp === theirs.exp && myHash === theirs.kvHash;
    return same ? 0 : NaN;
  }
  return compareStates(mine, asState(theirs));
}

/**
 * Finds and repairs divergence between two nodes in one exchange. A node broadcasts its
 * per-bucket digest; a peer whose buckets differ sends back the ids and versions it holds in
 * those buckets (SUMMARY, never the values); the first node then sends the entries the peer
 * lacks or holds older (ENTRIES) and asks for the ones it lacks itself (WANT).
 */
export class AntiEntropy {
  readonly #link: NodeLink;
  readonly #settleMs: number;

  /**
   * `settleMs`: in a periodic round, writes younger than this (by their version's clock) are
   * left alone: they are most likely still in flight, and repairing them would send every
   * recent write a second time under load. A round started by a gap or a reconnect (`urgent`)
   * repairs everything at once.
   */
  constructor(link: NodeLink, settleMs: number) {
    this.#link = link;
    this.#settleMs = settleMs;
  }

  /** The body of a DIGEST frame. */
  digestBody(urgent = false): Buffer {
    const words = this.#link.state.digest();
    const w = new Writer(5 + DIGEST_BUCKETS * 8 + 4);
    w.u8(urgent ? 1 : 0).u16(DIGEST_BUCKETS);
    for (const word of words) w.u32(word);
    w.u32(this.#link.state.live);
    return w.finish();
  }

  /** Broadcasts this node's digest (or sends it to one peer, after a gap in its stream). */
  announce(to = '', urgent = false): Promise<void> {
    return this.#link.send(MessageType.DIGEST, this.digestBody(urgent), to);
  }

  onDigest(from: string, r: Reader): void {
    const urgent = r.u8() === 1;
    const buckets = r.u16();
    if (buckets !== DIGEST_BUCKETS) throw new WireError(`digest of ${buckets} buckets; this node uses ${DIGEST_BUCKETS}`);
    const words = new Uint32Array(DIGEST_BUCKETS * 2);
    for (let i = 0; i < words.length; i++) words[i] = r.u32();
    r.u32();
    r.end();
    const differing = this.#link.state.differingBuckets(words);
    if (differing.length === 0) return;
    this.#link.counters.digestMismatches++;
    debug('%s: %d buckets differ from %s', this.#link.nodeId, differing.length, from);
    this.#sendSummary(from, differing, urgent);
  }

  #sendSummary(to: string, buckets: number[], urgent: boolean): void {
    // Group by bucket so that each frame covers whole buckets: the receiver reads a bucket
    // missing from a frame as "nothing held", which must never be half true.
    const byBucket = new Map<number, Array<[string, EntryState]>>();
    for (const b of buckets) byBucket.set(b, []);
    for (const [id, e] of this.#link.state.inBuckets(new Set(buckets))) byBucket.get(bucketOf(id))!.push([id, e]);
    const groups = [...byBucket.entries()];
    const sizeOf = ([, items]: [number, Array<[string, EntryState]>]) =>
      2 + items.reduce((n, [id, e]) => n + SUMMARY_ITEM + Buffer.byteLength(id) + Buffer.byteLength(e.n), 0);
    for (const run of chunked(groups, sizeOf, this.#link.chunkBytes)) {
      const w = new Writer(1024);
      w.u8(urgent ? 1 : 0);
      w.u32(run.length);
      for (const [b] of run) w.u16(b);
      w.u32(run.reduce((n, [, items]) => n + items.length, 0));
      for (const [, items] of run) for (const [id, e] of items) writeSummaryItem(w, id, e);
      this.#link.send(MessageType.SUMMARY, w.finish(), to).catch((err) => this.#link.fail(err));
    }
  }

  onSummary(from: string, r: Reader): void {
    const urgent = r.u8() === 1;
    const { buckets, items } = readSummary(r);
    r.end();
    const now = Date.now();
    const settled = now - (urgent ? 0 : this.#settleMs);
    const theirs = new Map<string, SummaryItem>();
    for (const [id, item] of items) theirs.set(id, item);
    const give: Array<[string, EntryState]> = [];
    const want: string[] = [];
    for (const [id, mine] of this.#link.state.inBuckets(new Set(buckets), now)) {
      if (lastWrite(mine) > settled) continue;
      const other = theirs.get(id);
      const rel = other ? relation(mine, other) : 1;
      if (rel > 0 || Number.isNaN(rel)) give.push([id, mine]);
    }
    for (const [id, item] of theirs) {
      if (item.exp <= now || item.t > settled) continue;
      const mine = this.#link.state.peek(id);
      const rel = mine && mine.exp > now ? relation(mine, item) : -1;
      if (rel < 0 || Number.isNaN(rel)) want.push(id);
    }
    debug('%s: summary from %s: giving %d, wanting %d', this.#link.nodeId, from, give.length, want.length);
    if (give.length) sendEntries(this.#link, MessageType.ENTRIES, give, from).catch((err) => this.#link.fail(err));
    for (const run of chunked(want, (id) => 2 + Buffer.byteLength(id), this.#link.chunkBytes)) {
      const w = new Writer(256);
      writeIds(w, run);
      this.#link.send(MessageType.WANT, w.finish(), from).catch((err) => this.#link.fail(err));
    }
  }

  onWant(from: string, r: Reader): void {
    const ids = readIds(r);
    r.end();
    const now = Date.now();
    const give: Array<[string, EntryState]> = [];
    for (const id of ids) {
      const e = this.#link.state.peek(id);
      if (e && e.exp > now) give.push([id, e]);
    }
    if (give.length) sendEntries(this.#link, MessageType.ENTRIES, give, from).catch((err) => this.#link.fail(err));
  }

  onEntries(r: Reader): void {
    const entries = readEntries(r);
    r.end();
    for (const [id, e] of entries) this.#link.apply(id, e);
  }
}
