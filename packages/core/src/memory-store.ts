import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { InvalidArgumentError, ScaleoutError, ErrorCodes } from './errors.js';
import { memoryStoreOptionsSchema, type MemoryStoreOptions } from './memory-store-options.js';
import { parseOptions } from './parse-options.js';
import { checkSessionId, checkTtl, decodeSession } from './session-value.js';
import type { LockOptions, SessionData, SessionStore, SyncSessionOps } from './types.js';
import { applyPatch, type SessionPatch } from './session-patch.js';
import { LocalLocks } from './session-lock.js';
import { LocalUserIndex } from './user-index.js';

const debug = debuglog('scaleout:memory-store');

interface Entry {
  json: string;
  expiresAt: number;
  bucket: number;
}

/**
 * Sessions in this process's memory. Unlike express-session's MemoryStore, which deletes an
 * expired entry only when it is read (and so leaks), expiry is indexed by time bucket and a
 * sweep frees expired entries on its own. Values are stored serialized, so what `get` returns
 * is always a fresh copy and mutating it never changes the store. Every operation is also
 * offered synchronously (`sync`), which the session engine uses to skip the promise chain.
 */
export class MemoryStore extends EventEmitter implements SessionStore {
  readonly #entries = new Map<string, Entry>(); // insertion order doubles as LRU order
  readonly #buckets = new Map<number, Set<string>>();
  readonly #maxSessions: number;
  readonly #resolution: number;
  readonly #maxValueBytes: number;
  readonly #locks = new LocalLocks();
  #users: LocalUserIndex | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Sessions evicted by the size bound since start. */
  evictions = 0;
  /** Sessions removed by expiry since start. */
  expirations = 0;
  readonly #sync: SyncSessionOps = {
    get: (id) => this.#get(id),
    set: (id, data, ttlMs) => this.#set(id, data, ttlMs),
    patch: (id, patch, ttlMs) => this.#patch(id, patch, ttlMs),
    touch: (id, ttlMs) => this.#touch(id, ttlMs),
    destroy: (id) => this.#destroy(id),
  };

  constructor(options: MemoryStoreOptions = {}) {
    super();
    const { maxSessions, maxValueBytes, sweepInterval } = parseOptions(memoryStoreOptionsSchema, options ?? {});
    this.#maxSessions = maxSessions;
    this.#maxValueBytes = maxValueBytes;
    this.#resolution = Math.max(10, sweepInterval);
    this.#timer = setInterval(() => this.sweep(), this.#resolution);
    this.#timer.unref();
    queueMicrotask(() => this.emit('ready'));
  }

  /** Always true while open: memory cannot be unreachable. */
  get available(): boolean {
    return !this.#closed;
  }

  /** In-process: operations cannot hang, so callers need no timers around them. */
  get local(): boolean {
    return true;
  }

  /**
   * The per-session operations done at once (see `SessionStore.sync`); `undefined` when a
   * subclass or a wrapper replaced one of them, so that its version is the one called.
   */
  get sync(): SyncSessionOps | undefined {
    const own = MemoryStore.prototype;
    return this.get === own.get && this.set === own.set && this.patch === own.patch && this.touch === own.touch && this.destroy === own.destroy ? this.#sync : undefined;
  }

  async get(id: string): Promise<SessionData | undefined> {
    return this.#get(id);
  }

  async set(id: string, data: SessionData, ttlMs: number): Promise<void> {
    this.#set(id, data, ttlMs);
  }

  async patch(id: string, patch: SessionPatch, ttlMs: number): Promise<boolean> {
    const current = this.#patched(id, patch, ttlMs);
    if (!current) return false;
    // Read, merge and write with no await in between: atomic on the event loop. The write goes
    // through `set`, so a subclass that overrides it sees patches too.
    await this.set(id, current, ttlMs);
    return true;
  }

  async touch(id: string, ttlMs: number): Promise<void> {
    this.#touch(id, ttlMs);
  }

  async destroy(id: string): Promise<void> {
    this.#destroy(id);
  }

  #get(id: string): SessionData | undefined {
    this.#checkOpen();
    checkSessionId(id);
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.#expire(id, entry);
      return undefined;
    }
    this.#bump(id, entry);
    return decodeSession(entry.json);
  }

  #set(id: string, data: SessionData, ttlMs: number): void {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new InvalidArgumentError('data', 'session data must be a plain object');
    }
    this.#write(id, data, ttlMs);
  }

  #write(id: string, data: SessionData, ttlMs: number): void {
    const json = JSON.stringify(data);
    // A UTF-16 unit takes at most 3 bytes of UTF-8: only a value that might be too long is measured.
    if (json.length * 3 > this.#maxValueBytes && Buffer.byteLength(json) > this.#maxValueBytes) {
      throw new InvalidArgumentError('data', `session ${Buffer.byteLength(json)} bytes long exceeds maxValueBytes ${this.#maxValueBytes}`);
    }
    const expiresAt = Date.now() + ttlMs;
    const entry = this.#entries.get(id);
    if (entry) {
      // Rewritten in place, as the most recently used.
      entry.json = json;
      this.#expireAt(id, entry, expiresAt);
      this.#bump(id, entry);
    } else this.#entries.set(id, this.#index(id, { json, expiresAt, bucket: 0 }));
    this.#users?.update(id, data);
    this.#enforceBound();
  }

  #patch(id: string, patch: SessionPatch, ttlMs: number): boolean {
    const current = this.#patched(id, patch, ttlMs);
    if (current) this.#write(id, current, ttlMs);
    return current !== undefined;
  }

  /** The stored session with `patch` applied, or `undefined` when there is none. */
  #patched(id: string, patch: SessionPatch, ttlMs: number): SessionData | undefined {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    const entry = this.#entries.get(id);
    if (!entry || entry.expiresAt <= Date.now()) return undefined;
    return applyPatch(decodeSession(entry.json) ?? {}, patch);
  }

  /** Keeps an index of sessions by the value of `userKey` (see `SessionStore.indexUsers`). */
  indexUsers(userKey: string): void {
    if (this.#users?.key === userKey) return;
    this.#users = new LocalUserIndex(userKey);
    for (const [id, entry] of this.#entries) this.#users.update(id, decodeSession(entry.json));
  }

  /** The ids of the user's live sessions. */
  async sessionsOf(userId: string): Promise<string[]> {
    this.#checkOpen();
    const now = Date.now();
    return (this.#users?.ids(userId) ?? []).filter((id) => (this.#entries.get(id)?.expiresAt ?? 0) > now);
  }

  async lock(id: string, options: LockOptions): Promise<() => Promise<void>> {
    this.#checkOpen();
    checkSessionId(id);
    return this.#locks.acquire(id, options);
  }

  #touch(id: string, ttlMs: number): void {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    const entry = this.#entries.get(id);
    if (!entry || entry.expiresAt <= Date.now()) return;
    this.#expireAt(id, entry, Date.now() + ttlMs);
    this.#bump(id, entry);
  }

  #destroy(id: string): void {
    this.#checkOpen();
    checkSessionId(id);
    const entry = this.#entries.get(id);
    if (entry) this.#delete(id, entry);
  }

  async *ids(): AsyncIterable<string> {
    this.#checkOpen();
    // A snapshot of the keys (references, not values): a live Map iterator would meet again every
    // session that a caller's get() moves to the LRU tail while iterating, and never end.
    const keys = Array.from(this.#entries.keys());
    for (const id of keys) {
      const entry = this.#entries.get(id);
      if (entry && entry.expiresAt > Date.now()) yield id;
    }
  }

  async size(): Promise<number> {
    this.#checkOpen();
    this.sweep();
    return this.#entries.size;
  }

  async clear(): Promise<void> {
    this.#checkOpen();
    this.#entries.clear();
    this.#buckets.clear();
    this.#users?.clear();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#entries.clear();
    this.#buckets.clear();
  }

  /** Same as `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Bytes held by serialized session values (keys and bookkeeping not counted). */
  valueBytes(): number {
    let total = 0;
    for (const e of this.#entries.values()) total += e.json.length;
    return total;
  }

  /** Frees every expired session now. Runs on its own every `sweepInterval`. */
  sweep(): number {
    const now = Date.now();
    const due = Math.floor(now / this.#resolution);
    let removed = 0;
    for (const [bucket, ids] of this.#buckets) {
      if (bucket > due) continue;
      for (const id of ids) {
        const entry = this.#entries.get(id);
        if (entry && entry.expiresAt <= now) {
          this.#expire(id, entry);
          removed++;
        }
      }
    }
    if (removed) debug('swept %d expired sessions', removed);
    return removed;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ScaleoutError(ErrorCodes.STORE_CLOSED, 'the memory store is closed');
  }

  #bump(id: string, entry: Entry): void {
    this.#entries.delete(id);
    this.#entries.set(id, entry);
  }

  #index(id: string, entry: Entry): Entry {
    entry.bucket = Math.floor(entry.expiresAt / this.#resolution);
    let set = this.#buckets.get(entry.bucket);
    if (!set) this.#buckets.set(entry.bucket, (set = new Set()));
    set.add(id);
    return entry;
  }

  /** Moves an entry's expiry; its time bucket changes only when the expiry crosses into another (most writes within one sweep interval do not). */
  #expireAt(id: string, entry: Entry, expiresAt: number): void {
    entry.expiresAt = expiresAt;
    if (Math.floor(expiresAt / this.#resolution) === entry.bucket) return;
    this.#unindex(id, entry);
    this.#index(id, entry);
  }

  #unindex(id: string, entry: Entry): void {
    const set = this.#buckets.get(entry.bucket);
    if (!set) return;
    set.delete(id);
    if (set.size === 0) this.#buckets.delete(entry.bucket);
  }

  /** Removes an entry; returns the user it belonged to (the index forgets it). */
  #delete(id: string, entry: Entry): string | undefined {
    this.#unindex(id, entry);
    this.#entries.delete(id);
    return this.#users?.remove(id);
  }

  #expire(id: string, entry: Entry): void {
    const userId = this.#delete(id, entry);
    this.expirations++;
    this.emit('expired', id, userId);
  }

  #enforceBound(): void {
    if (this.#maxSessions === 0) return;
    while (this.#entries.size > this.#maxSessions) {
      const [oldest, entry] = this.#entries.entries().next().value as [string, Entry];
      this.#delete(oldest, entry);
      this.evictions++;
      this.emit('evict', oldest);
    }
  }
}
