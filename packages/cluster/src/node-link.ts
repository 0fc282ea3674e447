import type { EntryState, ReplicaState } from './replica-state.js';
import { entrySize, writeEntry } from './messages.js';
import { Writer } from './wire.js';

/** Counters a node keeps; `stats()` returns a copy. */
export interface ReplicationCounters {
  /** Frames sent, of every type. */
  framesSent: number;
  /** WRITES frames sent: local changes, batched per event-loop turn. */
  writeFrames: number;
  /** WRITES frames received and applied (a peer's live changes). */
  writeFramesReceived: number;
  /** Bytes of the frames sent. */
  bytesSent: number;
  /** Frames received, of every type, before they are checked. */
  framesReceived: number;
  /** Bytes of the frames received. */
  bytesReceived: number;
  /** Remote states that changed this node's copy. */
  applied: number;
  /** Frames dropped, by reason. None of them was applied. */
  dropped: {
    /** Larger than `maxMessageBytes`. */
    oversized: number;
    /** Not a well-formed frame. */
    malformed: number;
    /** With a MAC that no secret verifies. */
    forged: number;
    /** Already seen, or stamped outside `replayWindow`. */
    replayed: number;
    /** Of a message type this node does not know. */
    unknownType: number;
  };
  /** Broadcast frames found missing from a peer's sequence. */
  gaps: number;
  /** Repairs started by a gap or a reconnect. */
  resyncs: number;
  /** Digests compared that differed from this node's. */
  digestMismatches: number;
  /** Entries sent to repair a peer. */
  repairsSent: number;
  /** Snapshots served to joining nodes, received, and restarted. */
  snapshotsServed: number;
  /** Snapshots received while joining. */
  snapshotsReceived: number;
  /** Joins restarted before their snapshot completed. */
  snapshotRestarts: number;
  /** Local writes refused because the session was destroyed. */
  writesAfterDestroy: number;
  /** Publishes the transport refused. */
  publishFailures: number;
}

export function newCounters(): ReplicationCounters {
  return {
    framesSent: 0, writeFrames: 0, writeFramesReceived: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0, applied: 0,
    dropped: { oversized: 0, malformed: 0, forged: 0, replayed: 0, unknownType: 0 },
    gaps: 0, resyncs: 0, digestMismatches: 0, repairsSent: 0,
    snapshotsServed: 0, snapshotsReceived: 0, snapshotRestarts: 0, writesAfterDestroy: 0, publishFailures: 0,
  };
}

/** What the protocol parts (anti-entropy, snapshots) need from the node they run in. */
export interface NodeLink {
  readonly nodeId: string;
  readonly state: ReplicaState;
  /** Target body size of one frame; a single larger entry still goes alone. */
  readonly chunkBytes: number;
  readonly counters: ReplicationCounters;
  /** Signs and publishes a frame; `to` addresses one node, `''` all. */
  send(type: number, body: Buffer, to?: string): Promise<void>;
  /** Merges a remote state into this node's copy. */
  apply(id: string, state: EntryState): void;
  /** A peer's live change stamped `originMs` (its HLC's physical time) was applied here. */
  replicated(originMs: number): void;
  /** Reports a failure that did not stop the node. */
  fail(err: unknown): void;
}

/** Splits `items` into runs whose summed `sizeOf` stays under `limit` (a run holds at least one item). */
export function* chunked<T>(items: Iterable<T>, sizeOf: (item: T) => number, limit: number): Generator<T[]> {
  let run: T[] = [];
  let size = 0;
  for (const item of items) {
    const s = sizeOf(item);
    if (run.length > 0 && size + s > limit) {
      yield run;
      run = [];
      size = 0;
    }
    run.push(item);
    size += s;
  }
  if (run.length > 0) yield run;
}

/** An ENTRIES-style body: a count then full states. */
export function entriesBody(entries: ReadonlyArray<readonly [string, EntryState]>, prefix?: (w: Writer) => void): Buffer {
  const w = new Writer(1024);
  prefix?.(w);
  w.u32(entries.length);
  for (const [id, e] of entries) writeEntry(w, id, e);
  return w.finish();
}

/** Sends full states to `to` in as many frames as they need. */
export async function sendEntries(link: NodeLink, type: number, entries: Iterable<readonly [string, EntryState]>, to: string): Promise<void> {
  const sends: Array<Promise<void>> = [];
  for (const run of chunked(entries, ([id, e]) => entrySize(id, e), link.chunkBytes)) {
    link.counters.repairsSent += run.length;
    sends.push(link.send(type, entriesBody(run), to));
  }
  await Promise.all(sends);
}
