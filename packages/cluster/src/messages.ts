import type { Version } from './hybrid-clock.js';
import { kvFingerprint, type KeyVersion } from './key-versions.js';
import { fnv1a, type EntryState } from './replica-state.js';
import { Reader, WireError, Writer } from './wire.js';

/** Frame types of the replication protocol. */
export const MessageType = {
  /** Broadcast: full states of written or destroyed sessions, and expiry moves. */
  WRITES: 1,
  /** Broadcast or directed: the sender's per-bucket digest; a receiver that differs answers with a SUMMARY. */
  DIGEST: 2,
  /** Directed: ids and versions held in the buckets that differ. */
  SUMMARY: 3,
  /** Directed: full states, answering a SUMMARY or a WANT. */
  ENTRIES: 4,
  /** Directed: ids whose full state the sender needs. */
  WANT: 5,
  /** Broadcast: a joining node looks for a peer to copy. */
  HELLO: 6,
  /** Directed: a ready peer answers a HELLO. */
  HELLO_ACK: 7,
  /** Directed: the joining node asks one peer for a snapshot. */
  SNAPSHOT_REQUEST: 8,
  /** Directed: one chunk of a snapshot. */
  SNAPSHOT_CHUNK: 9,
  /** Directed: the joining node has applied a chunk (flow control). */
  SNAPSHOT_ACK: 10,
} as const;

/** A touch: the write it extends and the new absolute expiry. */
export interface Touch extends Version {
  exp: number;
}

// Smallest encodings, used to refuse counts a frame cannot hold before allocating for them.
const MIN_ENTRY = 2 + 8 + 4 + 1 + 8 + 1;
const MIN_TOUCH = 2 + 8 + 4 + 1 + 8;
const MIN_ID = 2;

export function writeEntry(w: Writer, id: string, e: EntryState): void {
  w.str16(id).f64(e.t).u32(e.c).str8(e.n).f64(e.exp);
  if (e.json === null) {
    w.u8(1);
    return;
  }
  w.u8(0).str32(e.json);
  w.u16(e.kv?.size ?? 0);
  if (e.kv) for (const [k, v] of e.kv) w.str16(k).f64(v.t).u32(v.c).str8(v.n).u8(v.del ? 1 : 0);
}

/** Bytes {@link writeEntry} will take, to cut chunks before they grow past the frame limit. */
export function entrySize(id: string, e: EntryState): number {
  let kv = 0;
  if (e.kv) for (const [k, v] of e.kv) kv += 16 + Buffer.byteLength(k) + Buffer.byteLength(v.n);
  return 26 + Buffer.byteLength(id) + Buffer.byteLength(e.n) + (e.json === null ? 0 : 4 + Buffer.byteLength(e.json)) + kv;
}

export function readEntry(r: Reader): [string, EntryState] {
  const id = r.str16();
  const t = r.f64();
  const c = r.u32();
  const n = r.str8();
  const exp = r.f64();
  const kind = r.u8();
  if (kind > 1) throw new WireError(`unknown entry kind ${kind}`);
  if (kind === 1) return [id, { t, c, n, exp, json: null }];
  const json = r.str32();
  const count = r.u16();
  if (count === 0) return [id, { t, c, n, exp, json }];
  const kv = new Map<string, KeyVersion>();
  for (let i = 0; i < count; i++) kv.set(r.str16(), { t: r.f64(), c: r.u32(), n: r.str8(), del: r.u8() === 1 });
  return [id, { t, c, n, exp, json, kv }];
}

export function readEntries(r: Reader): Array<[string, EntryState]> {
  const n = r.count(MIN_ENTRY);
  const out: Array<[string, EntryState]> = [];
  for (let i = 0; i < n; i++) out.push(readEntry(r));
  return out;
}

export function writeTouch(w: Writer, id: string, t: Touch): void {
  w.str16(id).f64(t.t).u32(t.c).str8(t.n).f64(t.exp);
}

export function readTouches(r: Reader): Array<[string, Touch]> {
  const n = r.count(MIN_TOUCH);
  const out: Array<[string, Touch]> = [];
  for (let i = 0; i < n; i++) out.push([r.str16(), { t: r.f64(), c: r.u32(), n: r.str8(), exp: r.f64() }]);
  return out;
}

export function writeIds(w: Writer, ids: readonly string[]): void {
  w.u32(ids.length);
  for (const id of ids) w.str16(id);
}

export function readIds(r: Reader): string[] {
  const n = r.count(MIN_ID);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(r.str16());
  return out;
}

/**
 * A SUMMARY item: the version and expiry held for an id, whether it is a tombstone, and a hash of
 * its patched keys' versions (0 when none).
 */
export interface SummaryItem extends Version {
  exp: number;
  dead: boolean;
  kvHash: number;
}

/** The `kvHash` of a state. */
export function kvHashOf(e: EntryState): number {
  return e.json !== null && e.kv && e.kv.size > 0 ? fnv1a(kvFingerprint(e.kv)) || 1 : 0;
}

export function writeSummaryItem(w: Writer, id: string, e: EntryState): void {
  w.str16(id).f64(e.t).u32(e.c).str8(e.n).f64(e.exp).u8(e.json === null ? 1 : 0).u32(kvHashOf(e));
}

export function readSummary(r: Reader): { buckets: number[]; items: Array<[string, SummaryItem]> } {
  const nb = r.count(2);
  const buckets: number[] = [];
  for (let i = 0; i < nb; i++) buckets.push(r.u16());
  const n = r.count(MIN_ENTRY);
  const items: Array<[string, SummaryItem]> = [];
  for (let i = 0; i < n; i++) items.push([r.str16(), { t: r.f64(), c: r.u32(), n: r.str8(), exp: r.f64(), dead: r.u8() === 1, kvHash: r.u32() }]);
  return { buckets, items };
}
