import type { HybridClock } from './hybrid-clock.js';
import { MessageType, readEntries, readTouches, writeEntry, writeTouch, entrySize } from './messages.js';
import { chunked, type NodeLink } from './node-link.js';
import type { ReplicaState } from './replica-state.js';
import { Writer, type Reader } from './wire.js';

const TOUCH_BYTES = 2 + 8 + 4 + 1 + 8;

/**
 * Batches local changes into WRITES frames: everything written or touched during one turn of the
 * event loop goes out together on the next, so a burst of requests costs one publish, not one
 * each. Only ids are queued; the state is read when the frame is built, so ten writes to one
 * session in a turn send its last state once, and a touch of a session also written is dropped.
 */
export class Outbox {
  readonly #link: NodeLink;
  readonly #state: ReplicaState;
  #writes = new Set<string>();
  #touches = new Set<string>();
  #pending: Promise<void> | undefined;

  constructor(link: NodeLink, state: ReplicaState) {
    this.#link = link;
    this.#state = state;
  }

  /** Queues the full state of `id`; resolves once its frame is published. */
  write(id: string): Promise<void> {
    this.#writes.add(id);
    return this.#schedule();
  }

  /** Queues the expiry of `id`; resolves once its frame is published. */
  touch(id: string): Promise<void> {
    this.#touches.add(id);
    return this.#schedule();
  }

  /** Publishes whatever is queued now. */
  drain(): Promise<void> {
    return this.#pending ?? Promise.resolve();
  }

  #schedule(): Promise<void> {
    this.#pending ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.#pending = undefined;
        this.#flush().then(resolve, reject);
      });
    });
    return this.#pending;
  }

  #flush(): Promise<void> {
    const writes = this.#writes;
    const touches = this.#touches;
    this.#writes = new Set();
    this.#touches = new Set();
    const now = Date.now();
    type Item = { id: string; full: boolean };
    const items: Item[] = [];
    for (const id of writes) items.push({ id, full: true });
    for (const id of touches) if (!writes.has(id)) items.push({ id, full: false });
    const sends: Array<Promise<void>> = [];
    const sizeOf = (it: Item) => {
      const e = this.#state.peek(it.id);
      if (!e) return 0;
      return it.full ? entrySize(it.id, e) : TOUCH_BYTES + Buffer.byteLength(it.id) + e.n.length;
    };
    for (const run of chunked(items, sizeOf, this.#link.chunkBytes)) {
      const full: string[] = [];
      const touched: string[] = [];
      for (const it of run) {
        const e = this.#state.peek(it.id);
        if (!e || e.exp <= now) continue;
        (it.full || e.json === null ? full : touched).push(it.id);
      }
      if (full.length === 0 && touched.length === 0) continue;
      const w = new Writer(1024);
      w.u32(full.length);
      for (const id of full) writeEntry(w, id, this.#state.peek(id)!);
      w.u32(touched.length);
      for (const id of touched) writeTouch(w, id, this.#state.peek(id)!);
      this.#link.counters.writeFrames++;
      sends.push(this.#link.send(MessageType.WRITES, w.finish()));
    }
    return Promise.all(sends).then(() => undefined);
  }

  /** Applies a peer's WRITES frame. */
  onWrites(r: Reader, clock: HybridClock): void {
    const entries = readEntries(r);
    const touches = readTouches(r);
    r.end();
    this.#link.counters.writeFramesReceived++;
    for (const [id, e] of entries) {
      this.#link.apply(id, e);
      this.#link.replicated(e.t);
    }
    for (const [id, t] of touches) {
      clock.observe(t.t, t.c);
      if (this.#state.extend(id, t, t.exp)) this.#link.counters.applied++;
      this.#link.replicated(t.t);
    }
  }
}
