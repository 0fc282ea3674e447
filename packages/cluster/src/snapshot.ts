import { randomInt } from 'node:crypto';
import { debuglog } from 'node:util';
import { MessageType, entrySize, readEntries } from './messages.js';
import { entriesBody, type NodeLink } from './node-link.js';
import type { EntryState } from './replica-state.js';
import { Reader, Writer } from './wire.js';

const debug = debuglog('scaleout:snapshot');

/** Chunks a server keeps in flight before waiting for acks: bounds what pub/sub must buffer. */
const WINDOW = 4;
/** A snapshot nobody acks for this long is abandoned. */
const SERVE_IDLE_MS = 15_000;

interface Serving {
  iter: Iterator<[string, EntryState]>;
  next: number;
  inFlight: number;
  done: boolean;
  timer: NodeJS.Timeout;
}

function reqIdBody(reqId: number, extra?: (w: Writer) => void): Buffer {
  const w = new Writer(32);
  w.f64(reqId);
  extra?.(w);
  return w.finish();
}

/**
 * Streams this node's state to joining nodes, in chunks of about `chunkBytes`, at most
 * {@link WINDOW} unacknowledged at a time (Redis drops a subscriber whose output buffer grows
 * past its limit, so a 100 MB snapshot must not be pushed in one go). The state may change while
 * it streams: what changes after a chunk reaches the joiner as ordinary writes, which it
 * receives from the moment it subscribed.
 */
export class SnapshotServer {
  readonly #link: NodeLink;
  readonly #serving = new Map<string, Serving>();

  constructor(link: NodeLink) {
    this.#link = link;
  }

  onRequest(from: string, r: Reader): void {
    const reqId = r.f64();
    r.end();
    const key = `${from}\u0000${reqId}`;
    if (this.#serving.has(key)) return;
    // A joiner asks one peer at a time: an older request of the same joiner is dead.
    for (const k of [...this.#serving.keys()]) if (k.startsWith(`${from}\u0000`)) this.#stop(k);
    const s: Serving = { iter: this.#link.state.all(), next: 0, inFlight: 0, done: false, timer: this.#idle(key) };
    this.#serving.set(key, s);
    this.#link.counters.snapshotsServed++;
    debug('%s: serving a snapshot to %s', this.#link.nodeId, from);
    this.#pump(from, reqId, key, s);
  }

  onAck(from: string, r: Reader): void {
    const reqId = r.f64();
    r.u32();
    r.end();
    const key = `${from}\u0000${reqId}`;
    const s = this.#serving.get(key);
    if (!s) return;
    s.inFlight--;
    s.timer.refresh();
    if (s.done && s.inFlight <= 0) this.#stop(key);
    else this.#pump(from, reqId, key, s);
  }

  #idle(key: string): NodeJS.Timeout {
    const t = setTimeout(() => this.#stop(key), SERVE_IDLE_MS);
    t.unref();
    return t;
  }

  #stop(key: string): void {
    const s = this.#serving.get(key);
    if (!s) return;
    clearTimeout(s.timer);
    this.#serving.delete(key);
  }

  #pump(to: string, reqId: number, key: string, s: Serving): void {
    const now = Date.now();
    while (!s.done && s.inFlight < WINDOW) {
      const run: Array<[string, EntryState]> = [];
      let size = 0;
      for (;;) {
        const item = s.iter.next();
        if (item.done) {
          s.done = true;
          break;
        }
        const [id, e] = item.value;
        if (e.exp <= now) continue;
        run.push([id, e]);
        size += entrySize(id, e);
        if (size >= this.#link.chunkBytes) break;
      }
      const index = s.next++;
      const body = entriesBody(run, (w) => w.f64(reqId).u32(index).u8(s.done ? 1 : 0));
      s.inFlight++;
      this.#link.send(MessageType.SNAPSHOT_CHUNK, body, to).catch((err) => {
        this.#stop(key);
        this.#link.fail(err);
      });
    }
  }

  close(): void {
    for (const key of [...this.#serving.keys()]) this.#stop(key);
  }
}

/** How a node became ready. */
export type JoinOutcome = 'first' | 'snapshot';

/**
 * Joins a cluster: broadcasts HELLO, copies a snapshot from the first ready peer that answers,
 * and settles once the last chunk is applied. With no answer within `discoveryWait` the node is
 * the first of its cluster. A chunk out of order, or a peer that stalls, restarts the join.
 */
export class Joiner {
  readonly #link: NodeLink;
  readonly #discoveryWait: number;
  #reqId = 0;
  #peer: string | undefined;
  #next = 0;
  #sawPeer = false;
  #stalled: string | undefined;
  #stalledUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  #settle: ((outcome: JoinOutcome) => void) | undefined;
  #abort: ((err: Error) => void) | undefined;
  /** Entries applied from the current snapshot. */
  received = 0;

  constructor(link: NodeLink, discoveryWait: number) {
    this.#link = link;
    this.#discoveryWait = discoveryWait;
  }

  /** Resolves once this node holds a snapshot, or knows it is alone. */
  join(): Promise<JoinOutcome> {
    return new Promise<JoinOutcome>((resolve, reject) => {
      this.#settle = resolve;
      this.#abort = reject;
      this.#hello();
    });
  }

  get joining(): boolean {
    return this.#settle !== undefined;
  }

  #hello(): void {
    this.#reqId = randomInt(1, 2 ** 47);
    this.#peer = undefined;
    this.#next = 0;
    // Once a peer has shown itself, silence means it is busy or gone, not that this node is
    // alone: keep asking (until readyTimeout) rather than serve a partial copy as the first node.
    this.#arm(this.#discoveryWait, () => (this.#sawPeer ? this.#restart('no peer answered') : this.#finish('first')));
    this.#link.send(MessageType.HELLO, reqIdBody(this.#reqId)).catch((err) => this.#link.fail(err));
  }

  #arm(ms: number, then: () => void): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(then, ms);
    this.#timer.unref();
  }

  #restart(why: string): void {
    debug('%s: restarting join: %s', this.#link.nodeId, why);
    this.#stalled = this.#peer;
    this.#stalledUntil = Date.now() + this.#discoveryWait;
    this.#link.counters.snapshotRestarts++;
    this.#hello();
  }

  #stallMs(): number {
    return Math.max(3000, this.#discoveryWait * 4);
  }

  onHelloAck(from: string, r: Reader): void {
    const reqId = r.f64();
    r.u32();
    r.end();
    if (reqId === this.#reqId) this.found(from);
  }

  /**
   * A ready peer made itself known (answered HELLO, or sent writes or a digest, which only ready
   * nodes do): copy it. Taking any sign of life, not only the answer, keeps a loaded cluster
   * whose answer is slow from being mistaken for no cluster.
   */
  found(from: string): void {
    if (!this.#settle || this.#peer !== undefined) return;
    this.#sawPeer = true;
    // The peer that just stalled goes last: for one discovery wait, another one may take over.
    if (from === this.#stalled && Date.now() < this.#stalledUntil) return;
    const reqId = this.#reqId;
    this.#peer = from;
    debug('%s: copying a snapshot from %s', this.#link.nodeId, from);
    this.#arm(this.#stallMs(), () => this.#restart(`${from} stalled`));
    this.#link.send(MessageType.SNAPSHOT_REQUEST, reqIdBody(reqId), from).catch((err) => this.#link.fail(err));
  }

  onChunk(from: string, r: Reader): void {
    const reqId = r.f64();
    const index = r.u32();
    const last = r.u8() === 1;
    if (!this.#settle || reqId !== this.#reqId || from !== this.#peer) return;
    if (index !== this.#next) return this.#restart(`chunk ${index} arrived, ${this.#next} expected`);
    const entries = readEntries(r);
    r.end();
    for (const [id, e] of entries) this.#link.apply(id, e);
    this.received += entries.length;
    this.#next++;
    this.#arm(this.#stallMs(), () => this.#restart(`${from} stalled`));
    this.#link.send(MessageType.SNAPSHOT_ACK, reqIdBody(reqId, (w) => w.u32(index)), from).catch((err) => this.#link.fail(err));
    if (last) {
      this.#link.counters.snapshotsReceived++;
      this.#finish('snapshot');
    }
  }

  #finish(outcome: JoinOutcome): void {
    clearTimeout(this.#timer);
    const settle = this.#settle;
    this.#settle = undefined;
    this.#abort = undefined;
    debug('%s: ready (%s, %d entries)', this.#link.nodeId, outcome, this.received);
    settle?.(outcome);
  }

  /** Stops joining; a pending `join()` rejects with `reason`. */
  close(reason: Error = new Error('join abandoned')): void {
    clearTimeout(this.#timer);
    const abort = this.#abort;
    this.#settle = undefined;
    this.#abort = undefined;
    abort?.(reason);
  }
}

/** The body of a HELLO_ACK. */
export function helloAckBody(r: Reader, live: number): Buffer {
  const reqId = r.f64();
  r.end();
  return reqIdBody(reqId, (w) => w.u32(live));
}
