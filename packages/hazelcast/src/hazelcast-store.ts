import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { debuglog } from 'node:util';
import { LifecycleState, Predicates, type IMap } from 'hazelcast-client';
import {
  applyPatch,
  checkSessionId,
  checkTtl,
  decodeSession,
  ErrorCodes,
  InvalidArgumentError,
  isSessionData,
  LocalLocks,
  LockTimeoutError,
  parseOptions,
  ScaleoutError,
  StoreUnavailableError,
  withTimeout,
  type LockOptions,
  type SessionData,
  type SessionPatch,
  type SessionStore,
  userOf,
} from '@scaleout/core';
import type { HazelcastClient } from './hazelcast-client.js';
import { hazelcastStoreOptionsSchema, type HazelcastStoreOptions } from './hazelcast-config.js';
import { toStoreError } from './errors.js';
import { RecentValues } from './recent-values.js';
import { WrittenUsers } from './written-users.js';

const debug = debuglog('scaleout:hazelcast-store');

/**
 * Members keep expiry in whole seconds and cut the fraction off (a 1.5 s TTL lasts 1 s, 300 ms
 * lasts nothing), so TTLs are rounded up: a session may outlive its TTL by under a second but
 * never expires early.
 */
const wholeSeconds = (ttlMs: number): number => Math.ceil(ttlMs / 1000) * 1000;

/**
 * How long the claim of an expiry (`sessions.events: "once"`) is kept: long past the moment every
 * client hears of it, so a late one still finds it taken.
 */
const EXPIRY_CLAIM_MS = 60_000;

/**
 * How much longer than its session an entry of the companion map lives, so that the saves of the
 * next five minutes that leave the user as it was need not write it again (see `#index`).
 */
const USER_ENTRY_RENEW_MS = 5 * 60_000;

/** hazelcast-client 5.x delivers lifecycle events on its lifecycle service, an EventEmitter. */
const LIFECYCLE_EVENT = 'lifecycleEvent';

/**
 * Sessions in a Hazelcast IMap, one entry per session (id → JSON text) with a per-entry TTL that
 * `touch` slides with `setTtl`. Durability is the cluster's: with the map's `backup-count` ≥ 1 on
 * the members, every entry has a synchronous backup on another member and survives the loss of
 * one. While the client is offline every call fails at once with a coded error, and the store
 * emits `down` and `up` from the client's lifecycle.
 */
export class HazelcastStore extends EventEmitter implements SessionStore {
  /** The hazelcast-client the store runs its calls on. */
  readonly client: HazelcastClient;
  /** The IMap that holds the sessions. */
  readonly map: IMap<string, unknown>;
  /** Stored entries that were not sessions (read as no session) since start. */
  invalidValues = 0;
  readonly #ownsClient: boolean;
  readonly #commandTimeout: number;
  readonly #maxValueBytes: number;
  readonly #pageSize: number;
  readonly #lifecycle: EventEmitter | undefined;
  readonly #onState: (state: LifecycleState) => void;
  #available: boolean;
  #closed: Promise<void> | undefined;
  // IMap locks belong to the client, so two requests of this process would both hold one:
  // within the process, these local locks take turns first (lock() only: patches take none).
  readonly #local = new LocalLocks();
  // The JSON each session last had as this process read or wrote it: what a patch compares
  // against, so that a save needs no read first. Bounded; a value serves one save.
  readonly #known = new RecentValues();
  // This process's patches of one session, one after the other: each compares against the value
  // the one before wrote, so they never make each other retry. Other processes' are caught by
  // the compare-and-set.
  readonly #patching = new Map<string, Promise<boolean>>();
  // The index of sessions by user (indexUsers): a companion map, session id -> user id, with a
  // hash index on the value, so the sessions' own entries keep their layout (JSON text).
  #userKey: string | undefined;
  #users: Promise<IMap<string, string>> | undefined;
  readonly #written = new WrittenUsers();
  #listenerId: Promise<string> | undefined;
  // Who claimed each recent expiry (claimExpired): session id -> node id.
  #claims: Promise<IMap<string, string>> | undefined;

  /** Builds a store over the map `mapName` of an existing client. */
  static async fromClient(client: HazelcastClient, options: Omit<HazelcastStoreOptions, 'client' | 'map'> & { mapName?: string } = {}): Promise<HazelcastStore> {
    const { mapName = 'sessions', ...rest } = options;
    const map = await client.getMap<string, unknown>(mapName);
    return new HazelcastStore({ ...rest, client, map });
  }

  constructor(options: HazelcastStoreOptions) {
    super();
    const o = parseOptions(hazelcastStoreOptionsSchema, options ?? {});
    this.client = o.client;
    this.map = o.map;
    this.#ownsClient = o.ownsClient;
    this.#commandTimeout = o.commandTimeout;
    this.#maxValueBytes = o.maxValueBytes;
    this.#pageSize = o.pageSize;
    this.#available = this.client.getLifecycleService().isRunning();
    this.#onState = (state) => {
      if (state === LifecycleState.DISCONNECTED && this.#available) {
        this.#available = false;
        debug('down');
        this.emit('down', new StoreUnavailableError('the Hazelcast client lost its connection to the cluster'));
      } else if (state === LifecycleState.CONNECTED && !this.#available && !this.#closed) {
        this.#available = true;
        debug('up');
        this.emit('up');
      } else if (state === LifecycleState.SHUTTING_DOWN || state === LifecycleState.SHUTDOWN) {
        this.#available = false;
      }
    };
    const lifecycle = this.client.getLifecycleService() as unknown as Partial<EventEmitter>;
    this.#lifecycle = typeof lifecycle.on === 'function' ? (lifecycle as EventEmitter) : undefined;
    this.#lifecycle?.on(LIFECYCLE_EVENT, this.#onState);
    if (this.#available) queueMicrotask(() => this.emit('ready'));
  }

  /** `false` while the client is offline (between `down` and `up`) and after `close()`. */
  get available(): boolean {
    return this.#available && !this.#closed;
  }

  async get(id: string): Promise<SessionData | undefined> {
    this.#checkOpen();
    checkSessionId(id);
    let raw: unknown;
    try {
      raw = await this.#run('get', this.map.get(id));
    } catch (err) {
      // A value some other program stored in a form this client cannot deserialize.
      if ((err as ScaleoutError).cause?.constructor?.name === 'HazelcastSerializationError') return this.#invalid(id);
      throw err;
    }
    if (raw === null || raw === undefined) return undefined;
    const data = (typeof raw === 'string' && decodeSession(raw)) || this.#invalid(id);
    if (data) this.#known.remember(id, raw as string);
    return data;
  }

  async set(id: string, data: SessionData, ttlMs: number): Promise<void> {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    const json = this.#encode(data);
    this.#known.take(id);
    await Promise.all([this.#run('set', this.map.set(id, json, wholeSeconds(ttlMs))), this.#index(id, data, ttlMs)]);
    this.#known.remember(id, json);
  }

  /**
   * Applies what one request changed (keys set and removed), with no lock: the new value is
   * written with `replaceIfSame` (a compare-and-set on the member, by the serialized bytes)
   * against the value this process last read or wrote, then the expiry is set with `setTtl`
   * (`replaceIfSame` takes no TTL and leaves the entry without one). Two round trips; a third,
   * a `get`, only when the value is not known here or another node changed it meanwhile. So
   * concurrent requests from any node changing different keys all survive. Resolves `false`,
   * writing nothing, when the session is gone (`replaceIfSame` never creates an entry).
   */
  async patch(id: string, patch: SessionPatch, ttlMs: number): Promise<boolean> {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    const previous = this.#patching.get(id);
    const mine = (previous ? previous.catch(() => undefined) : Promise.resolve()).then(() => this.#patchOnce(id, patch, ttlMs));
    this.#patching.set(id, mine);
    try {
      return await mine;
    } finally {
      if (this.#patching.get(id) === mine) this.#patching.delete(id);
    }
  }

  async #patchOnce(id: string, patch: SessionPatch, ttlMs: number): Promise<boolean> {
    let raw: unknown = this.#known.take(id);
    // Bounded by time, not by a count: a node that streams patches of a hot session wins its
    // compare-and-set from the value it just wrote (one round trip), while a loser needs a read
    // first (two), so a loser can lose many times in a row until that stream pauses.
    const deadline = performance.now() + this.#commandTimeout;
    let attempt = 0;
    for (; ; attempt++) {
      if (raw === undefined) raw = await this.#run('patch', this.map.get(id));
      if (raw === null || raw === undefined) return false;
      const current = typeof raw === 'string' ? decodeSession(raw) : undefined;
      if (!current) return this.#invalid(id) ?? false;
      const nextData = applyPatch(current, patch);
      const next = this.#encode(nextData);
      if (await this.#run('patch', this.map.replaceIfSame(id, raw, next))) {
        await Promise.all([this.#run('patch', this.map.setTtl(id, wholeSeconds(ttlMs))), this.#index(id, nextData, ttlMs, current)]);
        this.#known.remember(id, next);
        return true;
      }
      raw = undefined;
      if (performance.now() >= deadline) break;
      if (attempt > 0) await sleep(Math.random() * Math.min(MAX_PATCH_BACKOFF_MS, 2 ** attempt));
    }
    throw new StoreUnavailableError(`session store patch: the session kept changing under ${attempt + 1} compare-and-set attempts in ${this.#commandTimeout} ms`);
  }

  /**
   * Takes the session's lock across every node of the app: a local lock within this process,
   * then the IMap lock of the key `lock:` + id (no entry is created), waiting up to `waitMs` in
   * all and held at most `ttlMs`. Rejects with `ERR_SCALEOUT_LOCK_TIMEOUT` when the wait runs out.
   */
  async lock(id: string, { ttlMs, waitMs }: LockOptions): Promise<() => Promise<void>> {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    const started = Date.now();
    const releaseLocal = await this.#local.acquire(id, { ttlMs, waitMs });
    const key = `lock:${id}`;
    const left = Math.max(0, waitMs - (Date.now() - started));
    let held = false;
    try {
      held = await this.#run('lock', this.map.tryLock(key, left, Math.max(1, Math.ceil(ttlMs))), this.#commandTimeout + left);
    } finally {
      if (!held) await releaseLocal();
    }
    if (!held) throw new LockTimeoutError(waitMs);
    return async () => {
      try {
        await this.#run('unlock', this.map.unlock(key));
      } finally {
        await releaseLocal();
      }
    };
  }

  async touch(id: string, ttlMs: number): Promise<void> {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    const users = this.#users && (await this.#users);
    const userTtl = wholeSeconds(ttlMs + USER_ENTRY_RENEW_MS);
    const until = Date.now() + userTtl;
    await Promise.all([this.#run('touch', this.map.setTtl(id, wholeSeconds(ttlMs))), users && this.#run('touch', users.setTtl(id, userTtl))]);
    this.#written.extend(id, until);
  }

  async destroy(id: string): Promise<void> {
    this.#checkOpen();
    checkSessionId(id);
    this.#known.take(id);
    this.#written.forget(id);
    const users = this.#users && (await this.#users);
    await this.#run('destroy', this.map.delete(id));
    if (users) await this.#run('destroy', users.delete(id));
  }

  /**
   * Starts keeping the index of sessions by user: the map `<map>.users` (session id -> user id,
   * with the session's TTL) and a HASH index on its value, so `sessionsOf` is one indexed
   * predicate query. An entry listener on the sessions' map turns each expiry into `expired`
   * (id, userId), read from the expired value: delivered to every client listening.
   */
  indexUsers(userKey: string): void {
    this.#checkOpen();
    if (this.#users) return;
    this.#userKey = userKey;
    this.#users = (async () => {
      const users = await this.client.getMap<string, string>(`${this.map.getName()}.users`);
      await users.addIndex({ type: 'HASH', attributes: ['this'] });
      return users;
    })();
    this.#users.catch((err: Error) => debug('index of sessions by user not started: %s', err.message));
    this.#listenerId = this.map.addEntryListener(
      {
        expired: (e) => {
          const raw = e.oldValue;
          const data = typeof raw === 'string' ? decodeSession(raw) : undefined;
          const userId = userOf(data, userKey);
          this.#known.take(e.key);
          this.#written.forget(e.key);
          // The companion entry outlives its session (USER_ENTRY_RENEW_MS): it goes now. Every
          // client listening deletes it, which is harmless; none listening leaves it to its TTL.
          if (userId !== undefined) void this.#users?.then((users) => users.delete(e.key)).catch((err: Error) => debug('index entry of an expired session not deleted: %s', err.message));
          this.emit('expired', e.key, userId);
        },
      },
      undefined,
      true,
    );
    this.#listenerId.catch((err: Error) => debug('expiry listener not started: %s', err.message));
  }

  /**
   * Claims the `expired` event of session `id` for `nodeId` (`sessions.events: "once"`): one
   * `putIfAbsent` in the map `<map>.expired`, kept a minute. Exactly one of the
   * clients that claim it gets `true`.
   */
  async claimExpired(id: string, nodeId: string): Promise<boolean> {
    this.#checkOpen();
    const claims = (this.#claims ??= this.client.getMap<string, string>(`${this.map.getName()}.expired`));
    const holder = await this.#run('claimExpired', (await claims).putIfAbsent(id, nodeId, EXPIRY_CLAIM_MS));
    return holder === null || holder === undefined;
  }

  /** The ids of the user's sessions: one indexed predicate query on the companion map. */
  async sessionsOf(userId: string): Promise<string[]> {
    this.#checkOpen();
    if (!this.#users) return [];
    const users = await this.#users;
    return this.#run('sessionsOf', users.keySetWithPredicate(Predicates.equal('this', userId)));
  }

  /** How many entries the index holds (every session that has a user). */
  async indexedSessions(): Promise<number> {
    if (!this.#users) return 0;
    return (await this.#users).size();
  }

  /**
   * Records (or clears) the session's user in the companion map, living the session's TTL plus
   * {@link USER_ENTRY_RENEW_MS}. A patch (`previous`, the session it changed) that leaves the user
   * as it was writes nothing while the entry this process last wrote still covers the new
   * lifetime, nor does one of a session that had and has no user: a request of a logged-in
   * session then costs the index nothing, and its entry is written about once per five minutes.
   */
  async #index(id: string, data: SessionData, ttlMs: number, previous?: SessionData): Promise<void> {
    if (!this.#users) return;
    const userId = userOf(data, this.#userKey!);
    const now = Date.now();
    if (previous) {
      const before = userOf(previous, this.#userKey!);
      if (before === userId && (userId === undefined || this.#written.covers(id, userId, now + ttlMs))) return;
    }
    const users = await this.#users;
    if (userId === undefined) {
      this.#written.forget(id);
      await this.#run('index', users.delete(id));
      return;
    }
    const ttl = wholeSeconds(ttlMs + USER_ENTRY_RENEW_MS);
    this.#written.forget(id);
    await this.#run('index', users.set(id, userId, ttl));
    this.#written.remember(id, userId, now + ttl);
  }

  /** Pages through the keys with a paging predicate: keys only, `pageSize` at a time, never the values. */
  async *ids(): AsyncIterable<string> {
    this.#checkOpen();
    const predicate = Predicates.paging(Predicates.alwaysTrue(), this.#pageSize);
    for (;;) {
      const keys = await this.#run('ids', this.map.keySetWithPredicate(predicate));
      for (const key of keys) yield key;
      if (keys.length < this.#pageSize) return;
      predicate.nextPage();
    }
  }

  async size(): Promise<number> {
    this.#checkOpen();
    return this.#run('size', this.map.size());
  }

  async clear(): Promise<void> {
    this.#checkOpen();
    await this.#run('clear', this.map.clear());
  }

  close(): Promise<void> {
    return (this.#closed ??= this.#shutdown());
  }

  /** Closes the store, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(): Promise<void> {
    this.#available = false;
    this.#known.clear();
    this.#written.clear();
    this.#lifecycle?.off(LIFECYCLE_EVENT, this.#onState);
    const listener = await this.#listenerId?.catch(() => undefined);
    if (listener) await withTimeout(this.map.removeEntryListener(listener), 2000, 'close').catch(() => undefined);
    if (this.#ownsClient) await withTimeout(this.client.shutdown(), 5000, 'close').catch(() => undefined);
  }

  #checkOpen(): void {
    if (this.#closed) throw new ScaleoutError(ErrorCodes.STORE_CLOSED, 'the Hazelcast session store is closed');
  }

  #encode(data: SessionData): string {
    if (!isSessionData(data)) throw new InvalidArgumentError('data', 'session data must be a plain object');
    const json = JSON.stringify(data);
    const bytes = Buffer.byteLength(json);
    if (bytes > this.#maxValueBytes) throw new InvalidArgumentError('data', `session ${bytes} bytes long exceeds maxValueBytes ${this.#maxValueBytes}`);
    return json;
  }

  #invalid(id: string): undefined {
    this.invalidValues++;
    // The id is a bearer credential: it goes to 'invalid' listeners, never to the log.
    debug('a stored value is not a session (%d so far)', this.invalidValues);
    this.emit('invalid', id);
    return undefined;
  }

  async #run<T>(operation: string, promise: Promise<T>, timeoutMs = this.#commandTimeout): Promise<T> {
    try {
      return await withTimeout(promise, timeoutMs, operation);
    } catch (err) {
      throw toStoreError(err, operation, timeoutMs);
    }
  }
}

/** Longest random pause between two compare-and-set attempts of a patch (ms); it doubles from 2 ms up to this. */
const MAX_PATCH_BACKOFF_MS = 50;
