import { compareVersions, type Version } from './hybrid-clock.js';
import { dominates, join, kvFingerprint, type KeyVersions, type LiveState } from './key-versions.js';

/** Buckets of the anti-entropy digest. A constant of the protocol: every node must agree on it. */
export const DIGEST_BUCKETS = 256;

/** What a node knows of one session: its version, absolute expiry and value (`null`: destroyed). */
export interface EntryState extends Version {
  /** Absolute expiry, ms since the epoch. A tombstone lives until then too. */
  exp: number;
  /** The session as JSON, or `null` for a tombstone. */
  json: string | null;
  /** Keys written by patches since the last full write (live states only). */
  kv?: KeyVersions | undefined;
}

interface Entry extends EntryState {
  /** Digest bucket and the entry's two 32-bit hashes, kept to XOR them out on change. */
  b: number;
  h1: number;
  h2: number;
}

/**
 * The order every node merges by, so that concurrent states converge to the same one:
 * a tombstone beats any live state (a destroyed session never comes back while its tombstone
 * lives), then the newer version, then (same write, touched on several nodes) the later expiry.
 */
export function compareStates(a: EntryState, b: EntryState): number {
  const ta = a.json === null;
  if (ta !== (b.json === null)) return ta ? 1 : -1;
  return compareVersions(a, b) || a.exp - b.exp;
}

/** FNV-1a over a string's UTF-16 code units, from a given offset basis. */
export function fnv1a(s: string, basis = 0x811c9dc5): number {
  let h = basis;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The digest bucket of a session id. */
export function bucketOf(id: string): number {
  return fnv1a(id) & (DIGEST_BUCKETS - 1);
}

/**
 * Every session and tombstone this node holds, with a per-bucket digest kept up to date on each
 * change (XOR of entry hashes, so a change costs O(1) and never a rescan) and an expiry index
 * in whole seconds so that expired entries are freed without being read.
 */
export class ReplicaState {
  readonly #entries = new Map<string, Entry>();
  readonly #digest = new Uint32Array(DIGEST_BUCKETS * 2);
  readonly #expiry = new Map<number, Set<string>>();
  readonly #nodeIds = new Map<string, string>();
  #tombstones = 0;

  /** Entries including tombstones. */
  get count(): number {
    return this.#entries.size;
  }

  get tombstones(): number {
    return this.#tombstones;
  }

  /** Live sessions (expired ones not yet swept are counted until the next sweep). */
  get live(): number {
    return this.#entries.size - this.#tombstones;
  }

  /**
   * Told of every change: the session's new JSON (`null` once destroyed or gone); `expired` when a
   * live session was swept out by its expiry.
   */
  onChange: ((id: string, json: string | null, expired: boolean) => void) | undefined;

  /** The raw entry (live or tombstone, possibly expired). */
  peek(id: string): EntryState | undefined {
    return this.#entries.get(id);
  }

  /**
   * Applies `state` if it orders after what is held; returns whether it did. Expired states are
   * refused, so a replayed or late write past its expiry cannot bring anything back.
   */
  merge(id: string, state: EntryState, now = Date.now()): boolean {
    if (state.exp <= now) return false;
    const old = this.#entries.get(id);
    let next: EntryState = state;
    if (old && old.json !== null && state.json !== null && (old.kv || state.kv)) {
      // Two live states with patched keys: merge key by key (see key-versions.ts).
      if (dominates(old as LiveState, state as LiveState)) return false;
      if (!dominates(state as LiveState, old as LiveState)) next = join(old as LiveState, state as LiveState);
    } else if (old && compareStates(state, old) <= 0) {
      return false;
    }
    this.#put(id, old, next.t, next.c, next.n, next.exp, next.json, next.kv);
    return true;
  }

  /** Moves the expiry of the write `version` later; ignored if a different write is held. */
  extend(id: string, version: Version, exp: number): boolean {
    const old = this.#entries.get(id);
    if (!old || old.json === null || compareVersions(old, version) !== 0 || exp <= old.exp) return false;
    this.#put(id, old, old.t, old.c, old.n, exp, old.json, old.kv);
    return true;
  }

  #put(id: string, old: Entry | undefined, t: number, c: number, n: string, exp: number, json: string | null, kv: KeyVersions | undefined): void {
    let node = this.#nodeIds.get(n);
    if (node === undefined) this.#nodeIds.set(n, (node = n));
    const keyed = json !== null && kv !== undefined && kv.size > 0 ? kv : undefined;
    const key = `${id}\u0000${t}:${c}:${node}:${exp}:${json === null ? 'x' : 'l'}${keyed ? `:${kvFingerprint(keyed)}` : ''}`;
    const entry: Entry = { t, c, n: node, exp, json, b: old ? old.b : bucketOf(id), h1: fnv1a(key), h2: fnv1a(key, 0x9747b28c) };
    if (keyed) entry.kv = keyed;
    if (old) this.#forget(id, old);
    this.#entries.set(id, entry);
    this.#xor(entry);
    if (json === null) this.#tombstones++;
    if (this.onChange && json !== old?.json) this.onChange(id, json, false);
    const sec = Math.ceil(exp / 1000);
    let ids = this.#expiry.get(sec);
    if (!ids) this.#expiry.set(sec, (ids = new Set()));
    ids.add(id);
  }

  #xor(e: Entry): void {
    const d = this.#digest;
    d[e.b * 2] = d[e.b * 2]! ^ e.h1;
    d[e.b * 2 + 1] = d[e.b * 2 + 1]! ^ e.h2;
  }

  #forget(id: string, e: Entry): void {
    this.#xor(e);
    if (e.json === null) this.#tombstones--;
    const sec = Math.ceil(e.exp / 1000);
    const ids = this.#expiry.get(sec);
    if (ids) {
      ids.delete(id);
      if (ids.size === 0) this.#expiry.delete(sec);
    }
  }

  /** Frees every entry (live or tombstone) whose expiry has passed. */
  sweep(now = Date.now()): number {
    // Second `sec` holds expiries in (sec - 1 s, sec]: some of them may be due once sec - 1 s has passed.
    const due = Math.floor(now / 1000) + 1;
    let removed = 0;
    for (const [sec, ids] of this.#expiry) {
      if (sec > due) continue;
      for (const id of ids) {
        const e = this.#entries.get(id);
        if (e && e.exp <= now) {
          this.#forget(id, e);
          this.#entries.delete(id);
          removed++;
          if (e.json !== null) this.onChange?.(id, null, true);
        }
      }
    }
    return removed;
  }

  /** Drops everything without replicating (used on close). */
  reset(): void {
    this.#entries.clear();
    this.#expiry.clear();
    this.#digest.fill(0);
    this.#tombstones = 0;
  }

  /** A copy of the per-bucket digest: two 32-bit words per bucket. */
  digest(): Uint32Array {
    return this.#digest.slice();
  }

  /** Buckets whose digest differs from `other`'s. */
  differingBuckets(other: Uint32Array): number[] {
    const out: number[] = [];
    for (let b = 0; b < DIGEST_BUCKETS; b++) {
      if (this.#digest[b * 2] !== other[b * 2] || this.#digest[b * 2 + 1] !== other[b * 2 + 1]) out.push(b);
    }
    return out;
  }

  /** Every entry, live or tombstone, unexpired at `now`. Tolerates changes while iterating. */
  *all(now = Date.now()): IterableIterator<[string, EntryState]> {
    for (const [id, e] of this.#entries) if (e.exp > now) yield [id, e];
  }

  /** Entries in the given buckets. */
  *inBuckets(buckets: ReadonlySet<number>, now = Date.now()): IterableIterator<[string, EntryState]> {
    for (const [id, e] of this.#entries) if (e.exp > now && buckets.has(e.b)) yield [id, e];
  }

  /** Live (not destroyed, not expired) ids. */
  *liveIds(now = Date.now()): IterableIterator<string> {
    for (const [id, e] of this.#entries) if (e.json !== null && e.exp > now) yield id;
  }
}
