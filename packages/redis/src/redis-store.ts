import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import {
  applyPatch,
  checkSessionId,
  checkTtl,
  ErrorCodes,
  InvalidArgumentError,
  isSessionData,
  LockTimeoutError,
  parseDuration,
  ScaleoutError,
  StoreUnavailableError,
  withTimeout,
  type Duration,
  type LockOptions,
  type SessionData,
  type SessionPatch,
  type SessionStore,
  userOf,
} from '@scaleout/core';
import { Command } from 'ioredis';
import type { RedisClient } from './redis-client.js';
import { isCluster, mastersOf, prefixPattern, scanNode } from './redis-scan.js';
import { ReplicaAckError, toStoreError } from './errors.js';
import { byteSize, decodeHash, fieldOf, JSON_SERIALIZER, LAYOUT_VERSION, metaFields, sessionFields, type Serializer } from './serializer.js';
import { sha1, withScripts, type IndexedReply, type PatchReply, type ScriptedClient } from './redis-scripts.js';
import { ExpiryListener, isSessionIdLike, SHADOW_LINGER_MS, SHADOW_MARGIN_MS, UserIndexKeys } from './redis-user-index.js';

const debug = debuglog('scaleout:redis-store');

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * The ioredis client (`Redis` or `Cluster`), connected or connecting. The store defines three
   * Lua commands on it (`scaleoutPatch`, `scaleoutReplace`, `scaleoutReleaseLock`).
   */
  client: RedisClient;
  /**
   * Whether `close()` also closes the client. An app that hands over its own client keeps it.
   * @default false
   */
  ownsClient?: boolean;
  /**
   * Prepended to each session id to form its key.
   * @default "sess:"
   */
  prefix?: string;
  /**
   * Prepended to a session id to form the key of its lock (`lock()`); must not start with `prefix`,
   * so that locks are never listed as sessions.
   * @default "lock:" + prefix
   */
  lockPrefix?: string;
  /**
   * Prepended to the keys of the index of sessions by user (`indexUsers`): a set of session ids
   * per user and a small shadow key beside each session of a user. Must neither start with
   * `prefix` nor be a beginning of it.
   * @default "user:" + prefix
   */
  userPrefix?: string;
  /**
   * Reads sessions still stored in the string layout of scaleout 0.1 (written with this
   * serializer then); they are rewritten as hashes on their next save.
   * @default JSON
   */
  serializer?: Serializer;
  /**
   * Sessions left by another store under `prefix`, read and rewritten as hashes on their next
   * save: `"connect-redis"` (connect-redis 8 with its JSON serializer) reads their strings as
   * JSON whatever `serializer` says. See docs/redis.md, "Moving from connect-redis".
   */
  migrateFrom?: 'connect-redis';
  /**
   * Replicas that must confirm each `set`, `patch` and `destroy` (Redis `WAIT`) before it counts as done.
   * @default 0
   */
  waitReplicas?: number;
  /**
   * How long `WAIT` waits for those confirmations.
   * @default "1s"
   */
  waitTimeout?: Duration;
  /**
   * Longest any operation may take (plus `waitTimeout` for a write that waits) before it
   * rejects with `StoreTimeoutError`.
   * @default "1s"
   */
  commandTimeout?: Duration;
  /**
   * Largest serialized session accepted, in bytes.
   * @default 1048576
   */
  maxValueBytes?: number;
  /**
   * Keys asked per SCAN page by `ids()`, `size()` and `clear()`.
   * @default 1000
   */
  scanCount?: number;
}

/** Defaults of {@link RedisStoreOptions}. */
export const DEFAULT_REDIS_STORE_OPTIONS = {
  /** The store does not quit a client it was given. */
  ownsClient: false,
  /** Session keys are `sess:` + id, as connect-redis writes them. */
  prefix: 'sess:',
  /** No `WAIT` after a write. */
  waitReplicas: 0,
  /** 1 s. */
  waitTimeout: 1000,
  /** 1 s. */
  commandTimeout: 1000,
  /** 1 MiB. */
  maxValueBytes: 1024 * 1024,
  /** The `COUNT` hint of each `SCAN` page. */
  scanCount: 1000,
} as const satisfies Omit<RedisStoreOptions, 'client'>;

function wholeNumber(field: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(field, `${field} must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/**
 * Sessions in Redis (standalone, Sentinel or Cluster: the same code for all three). Each session
 * is one hash under `prefix + id`: a field per top-level key holding its JSON, and metadata
 * fields (see {@link META}). A read is one `HGETALL`, a save of what a request changed one Lua
 * script with no read first, a touch one `PEXPIRE`; a session is one key, so all of it lives on
 * one Cluster slot. A session in the older string layout (scaleout 0.1, connect-redis) is read
 * too and rewritten as a hash on its next save. Listing, counting and clearing SCAN every
 * master page by page and delete key by key, so no multi-key command ever spans Cluster slots. Every call fails fast with a coded error while Redis is
 * unreachable, and the store emits `down` and `up` as the connection goes and comes back.
 */
export class RedisStore extends EventEmitter implements SessionStore {
  /** The ioredis client (standalone, Sentinel or Cluster) the store runs its commands on. */
  readonly client: RedisClient & ScriptedClient;
  /** Prepended to each session id to form its key. */
  readonly prefix: string;
  /** Prepended to a session id to form the key of its lock. */
  readonly lockPrefix: string;
  /** Prepended to the keys of the index of sessions by user. */
  readonly userPrefix: string;
  /** Stored values under the prefix that were not sessions (read as no session) since start. */
  invalidValues = 0;
  readonly #ownsClient: boolean;
  readonly #serializer: Serializer;
  readonly #waitReplicas: number;
  readonly #waitTimeout: number;
  readonly #commandTimeout: number;
  readonly #maxValueBytes: number;
  readonly #scanCount: number;
  readonly #pattern: string;
  /** Whether the client's own command timeout already bounds each call (no extra timer needed). */
  readonly #clientTimesOut: boolean;
  #available: boolean;
  #everReady: boolean;
  #index: UserIndexKeys | undefined;
  #expiry: ExpiryListener | undefined;
  #closed: Promise<void> | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly #listeners: [string, (...args: any[]) => void][];

  constructor(options: RedisStoreOptions) {
    super();
    if (!options || typeof options.client?.pipeline !== 'function') {
      throw new InvalidArgumentError('client', 'RedisStore needs an ioredis client (Redis or Cluster) in options.client');
    }
    const o = { ...DEFAULT_REDIS_STORE_OPTIONS, ...options };
    if (typeof o.prefix !== 'string' || o.prefix.length > 128) {
      throw new InvalidArgumentError('prefix', `prefix must be a string of at most 128 characters, got ${String(o.prefix)}`);
    }
    this.client = withScripts(o.client);
    this.prefix = o.prefix;
    this.lockPrefix = o.lockPrefix ?? `lock:${o.prefix}`;
    // With an empty prefix every key could be a session: lock() is then refused rather than this.
    if (typeof this.lockPrefix !== 'string' || this.lockPrefix === '' || (o.prefix !== '' && this.lockPrefix.startsWith(o.prefix))) {
      throw new InvalidArgumentError('lockPrefix', `lockPrefix must be a non-empty string that does not start with prefix ${JSON.stringify(o.prefix)}, got ${JSON.stringify(this.lockPrefix)}`);
    }
    this.userPrefix = o.userPrefix ?? `user:${o.prefix}`;
    // With an empty prefix every key could be a session: indexUsers() is then refused rather than this.
    if (typeof this.userPrefix !== 'string' || this.userPrefix === '' || (o.prefix !== '' && (this.userPrefix.startsWith(o.prefix) || o.prefix.startsWith(this.userPrefix)))) {
      throw new InvalidArgumentError('userPrefix', `userPrefix must be a non-empty string that neither starts with prefix ${JSON.stringify(o.prefix)} nor begins it, got ${JSON.stringify(this.userPrefix)}`);
    }
    this.#pattern = prefixPattern(o.prefix);
    this.#ownsClient = o.ownsClient;
    if (o.migrateFrom !== undefined && o.migrateFrom !== 'connect-redis') {
      throw new InvalidArgumentError('migrateFrom', `migrateFrom must be "connect-redis" or left out, got ${JSON.stringify(o.migrateFrom)}`);
    }
    this.#serializer = o.migrateFrom === 'connect-redis' ? JSON_SERIALIZER : (o.serializer ?? JSON_SERIALIZER);
    this.#waitReplicas = wholeNumber('waitReplicas', o.waitReplicas, 0, 16);
    this.#waitTimeout = parseDuration(o.waitTimeout, 'waitTimeout');
    this.#commandTimeout = parseDuration(o.commandTimeout, 'commandTimeout');
    if (this.#commandTimeout <= 0) throw new InvalidArgumentError('commandTimeout', `commandTimeout must be more than 0 ms, got ${this.#commandTimeout}`);
    this.#maxValueBytes = wholeNumber('maxValueBytes', o.maxValueBytes, 1);
    this.#scanCount = wholeNumber('scanCount', o.scanCount, 1, 100_000);
    const clientTimeout = isCluster(this.client) ? this.client.options.redisOptions?.commandTimeout : this.client.options.commandTimeout;
    this.#clientTimesOut = typeof clientTimeout === 'number' && clientTimeout > 0 && clientTimeout <= this.#commandTimeout;
    this.#available = this.client.status === 'ready';
    this.#everReady = this.#available;

    let lastError: Error | undefined;
    const onReady = () => {
      if (this.#available) return;
      this.#available = true;
      if (this.#everReady) {
        debug('up');
        this.emit('up');
      } else {
        this.#everReady = true;
        this.emit('ready');
      }
    };
    const onClose = () => {
      if (!this.#available || this.#closed) return;
      this.#available = false;
      debug('down: %s', lastError?.message ?? 'connection closed');
      this.emit('down', new StoreUnavailableError(`the Redis connection was lost${lastError ? `: ${lastError.message}` : ''}`, { cause: lastError }));
    };
    const onError = (err: Error) => {
      lastError = err;
      // An 'error' event nobody listens to would crash the process: connection errors are
      // already reported as 'down', so they are only passed on to whoever asked for them.
      if (this.listenerCount('error') > 0) this.emit('error', err);
      else debug('client error: %s', err.message);
    };
    const onEnd = () => {
      onClose();
      // ioredis gives a client up for good in a few races (a Sentinel resolution cut short); a
      // client this store owns is never meant to end before close(), so it is started again.
      if (!this.#ownsClient || this.#closed) return;
      debug('client ended; reconnecting');
      setTimeout(() => {
        if (!this.#closed && this.client.status === 'end') this.client.connect().catch(() => undefined);
      }, 500).unref();
    };
    this.#listeners = [
      ['ready', onReady],
      ['close', onClose],
      ['end', onEnd],
      ['error', onError],
    ];
    for (const [event, fn] of this.#listeners) this.client.on(event, fn);
    if (this.#available) queueMicrotask(() => this.emit('ready'));
  }

  /** `false` while Redis is unreachable (between `down` and `up`) and after `close()`. */
  get available(): boolean {
    return this.#available && !this.#closed;
  }

  /** One `HGETALL`; a key in the string layout costs a `GET` more, until its next save rewrites it. */
  async get(id: string): Promise<SessionData | undefined> {
    this.#checkOpen();
    checkSessionId(id);
    const key = this.prefix + id;
    let fields: Record<string, string>;
    try {
      fields = await this.#run('get', this.client.hgetall(key));
    } catch (err) {
      if (isWrongType(err)) return this.#getString(id, key);
      throw err;
    }
    for (const _ in fields) return decodeHash(fields, this.#maxValueBytes) ?? this.#invalid(id);
    return undefined;
  }

  async #getString(id: string, key: string): Promise<SessionData | undefined> {
    let raw: string | Buffer | null;
    try {
      raw = await this.#run<string | Buffer | null>('get', this.#serializer.binary ? this.client.getBuffer(key) : this.client.get(key));
    } catch (err) {
      // A list, a set, a stream under the prefix: a value of the wrong shape.
      if (isWrongType(err)) return this.#invalid(id);
      throw err;
    }
    return raw === null ? undefined : this.#decodeString(id, raw);
  }

  /** Replaces the whole session (a new one, a regenerated one) with one script: delete, write the hash, set its expiry. */
  async set(id: string, data: SessionData, ttlMs: number): Promise<void> {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    const px = Math.max(1, Math.ceil(ttlMs));
    const reply = await this.#replace('set', this.prefix + id, '', px, this.#encode(data, px));
    if (Array.isArray(reply)) await this.#reindex(id, this.#index!.userOfField(reply[1]), reply, px);
  }

  /**
   * Applies what one request changed (keys set and removed) in one round trip with no read
   * first: a Lua script that checks the session still exists, sets the changed fields, deletes
   * the removed ones and slides the expiry, so concurrent requests changing different keys all
   * survive. Resolves `false`, writing nothing, when the session is gone. A session still in the
   * string layout is rewritten whole as a hash, compared-and-set against the string the script
   * returned (a second round trip, once per session).
   */
  async patch(id: string, patch: SessionPatch, ttlMs: number): Promise<boolean> {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    const key = this.prefix + id;
    const px = Math.max(1, Math.ceil(ttlMs));
    const pairs = metaFields(px, Date.now(), false);
    try {
      sessionFields(patch.set, pairs);
    } catch (err) {
      throw new InvalidArgumentError('data', `session values must be JSON: ${(err as Error).message}`);
    }
    this.#checkSize(pairs);
    const index = this.#index;
    const shadow = index ? index.shadow(key) : key;
    const args: (string | number)[] = [LAYOUT_VERSION, px, index?.field ?? '', px + SHADOW_MARGIN_MS, pairs.length, ...pairs];
    for (const k of patch.unset) args.push(fieldOf(k));
    const binary = this.#serializer.binary === true;
    for (let attempt = 0; attempt < MAX_PATCH_ATTEMPTS; attempt++) {
      const reply = await this.#write<PatchReply>(
        'patch',
        () => (binary ? this.client.scaleoutPatchBuffer(key, shadow, ...args) : this.client.scaleoutPatch(key, shadow, ...args)),
        (p) => (binary ? p.scaleoutPatchBuffer(key, shadow, ...args) : p.scaleoutPatch(key, shadow, ...args)),
      );
      if (Array.isArray(reply)) {
        await this.#reindex(id, index!.userOfField(fieldText(reply[1])), reply, px);
        return true;
      }
      if (reply === 1) return true;
      if (reply === 0) return false;
      if (typeof reply === 'number') return this.#invalid(id) ?? false;
      const current = this.#decodeString(id, reply);
      if (!current) return false;
      const replaced = await this.#replace('patch', key, sha1(reply), px, this.#encode(applyPatch(current, patch), px));
      if (Array.isArray(replaced)) await this.#reindex(id, userOf(current, index!.userKey), replaced, px);
      if (replaced === 1 || Array.isArray(replaced)) return true;
    }
    throw new StoreUnavailableError(`session store patch: the session changed under ${MAX_PATCH_ATTEMPTS} attempts in a row`);
  }

  /**
   * Takes the session's lock across every node sharing this Redis (`SET lockPrefix+id token NX PX
   * ttl`), retrying with backoff for up to `waitMs`; the release deletes it only if it still holds
   * this holder's token. Rejects with `ERR_SCALEOUT_LOCK_TIMEOUT` when the wait runs out.
   */
  async lock(id: string, { ttlMs, waitMs }: LockOptions): Promise<() => Promise<void>> {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    if (this.prefix === '') throw new InvalidArgumentError('prefix', 'lock() needs a non-empty prefix: with an empty one, lock keys would be listed and cleared as sessions');
    const key = this.lockPrefix + id;
    const token = randomBytes(16).toString('base64url');
    const deadline = Date.now() + waitMs;
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      if ((await this.#run('lock', this.client.set(key, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'))) === 'OK') {
        return async () => {
          await this.#run('unlock', this.client.scaleoutReleaseLock(key, token));
        };
      }
      if (Date.now() + delay > deadline) throw new LockTimeoutError(waitMs);
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** Slides the expiry. Not followed by `WAIT`: a touch lost in a failover only leaves the previous expiry. */
  async touch(id: string, ttlMs: number): Promise<void> {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    const px = Math.max(1, Math.ceil(ttlMs));
    const key = this.prefix + id;
    const index = this.#index;
    if (!index) {
      await this.#run('touch', this.client.pexpire(key, px));
      return;
    }
    // The user's set must live as long as the session: the touch tells whose session it is.
    const field = await this.#run('touch', this.client.scaleoutTouch(key, index.shadow(key), px, px + SHADOW_MARGIN_MS, index.field));
    const userId = index.userOfField(fieldText(field));
    if (userId !== undefined) await this.#run('touch', this.client.scaleoutUserAdd(index.set(userId), id, px + SHADOW_MARGIN_MS));
  }

  /** Removes the session; with `waitReplicas`, a logout is confirmed by replicas too, so a failover cannot revive it. */
  async destroy(id: string): Promise<void> {
    this.#checkOpen();
    checkSessionId(id);
    const key = this.prefix + id;
    const index = this.#index;
    if (!index) {
      await this.#write('destroy', () => this.client.unlink(key), (p) => p.unlink(key));
      return;
    }
    const shadow = index.shadow(key);
    const field = await this.#write('destroy', () => this.client.scaleoutDestroy(key, shadow, index.field), (p) => p.scaleoutDestroy(key, shadow, index.field));
    // After the delete, not before: a crash in between leaves an id that readers drop.
    const userId = index.userOfField(fieldText(field));
    if (userId !== undefined) await this.#run('destroy', this.client.srem(index.set(userId), id));
  }

  /**
   * Starts keeping the index of sessions by user (docs/sessions-by-user.md): each save, touch
   * and destroy keeps the user's set, and an expiry takes the id out of it and emits `expired`
   * (id, userId) on every store subscribed, through keyspace notifications (a server that
   * refuses `CONFIG SET` keeps its own flags: without `Ex` no `expired` comes). Refused with an
   * empty prefix.
   */
  indexUsers(userKey: string): void {
    this.#checkOpen();
    if (this.prefix === '') throw new InvalidArgumentError('prefix', 'indexUsers() needs a non-empty prefix: with an empty one, index keys would be listed as sessions');
    if (this.#index) return;
    this.#index = new UserIndexKeys(this.userPrefix, userKey, fieldOf(userKey));
    const listener = (this.#expiry = new ExpiryListener((key) => void this.#expired(key)));
    listener.start(this.client).catch((err: Error) => debug('expiry events not started: %s', err.message));
  }

  /**
   * The ids in the user's set that still name a session: one `SMEMBERS`, one `EXISTS` per id (on
   * the node that holds it), and one `SREM` of those that are gone. A set that is not a set, or
   * members that cannot be session ids, are counted in `invalidValues` and dropped.
   */
  async sessionsOf(userId: string): Promise<string[]> {
    this.#checkOpen();
    const index = this.#index;
    if (!index) return [];
    const setKey = index.set(userId);
    let members: string[];
    try {
      members = await this.#run('sessionsOf', this.client.smembers(setKey));
    } catch (err) {
      if (isWrongType(err)) return this.#invalid(setKey) ?? [];
      throw err;
    }
    const live: string[] = [];
    const gone: string[] = [];
    const bad = members.filter((m) => !isSessionIdLike(m));
    for (const m of bad) this.#invalid(m);
    const ids = members.filter(isSessionIdLike);
    const exists = await Promise.all(ids.map((id) => this.#run('sessionsOf', this.client.exists(this.prefix + id))));
    ids.forEach((id, i) => (exists[i] ? live : gone).push(id));
    gone.push(...bad);
    if (gone.length) await this.#run('sessionsOf', this.client.srem(setKey, ...gone));
    return live;
  }

  /** Saves, touches and patches tell the user's set; a user changed takes the id out of the old one's. */
  async #reindex(id: string, before: string | undefined, reply: IndexedReply, px: number): Promise<void> {
    const index = this.#index!;
    const after = index.userOfField(fieldText(reply[2]));
    if (after !== undefined) await this.#run('index', this.client.scaleoutUserAdd(index.set(after), id, px + SHADOW_MARGIN_MS));
    if (before !== undefined && before !== after) await this.#run('index', this.client.srem(index.set(before), id));
  }

  /** A key expired on some master: a session's takes its id out of its user's set (known from the shadow) and emits `expired`. */
  async #expired(key: string): Promise<void> {
    const index = this.#index;
    if (!index || this.#closed || !key.startsWith(this.prefix)) return;
    const id = key.slice(this.prefix.length);
    let userId: string | undefined;
    const shadow = index.shadow(key);
    try {
      if (shadow !== key) {
        userId = index.userOfField(await this.#run('expired', this.client.get(shadow)));
        // Not deleted: every node subscribed reads it too. It goes on its own shortly.
        if (userId !== undefined) await this.#run('expired', this.client.pexpire(shadow, SHADOW_LINGER_MS));
      }
      if (userId !== undefined) await this.#run('expired', this.client.srem(index.set(userId), id));
    } catch (err) {
      debug('expired: index not updated: %s', (err as Error).message);
    }
    this.emit('expired', id, userId);
  }

  async *ids(): AsyncIterable<string> {
    this.#checkOpen();
    for (const node of mastersOf(this.client)) {
      for await (const keys of scanNode(node, this.#pattern, this.#scanCount, (p) => this.#run('ids', p))) {
        for (const key of keys) yield key.slice(this.prefix.length);
      }
    }
  }

  async size(): Promise<number> {
    this.#checkOpen();
    const counts = await Promise.all(
      mastersOf(this.client).map(async (node) => {
        let n = 0;
        for await (const keys of scanNode(node, this.#pattern, this.#scanCount, (p) => this.#run('size', p))) n += keys.length;
        return n;
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Deletes every key under the prefix: one pipeline of single-key UNLINKs per SCAN page, on the node that holds them. */
  async clear(): Promise<void> {
    this.#checkOpen();
    await Promise.all(
      mastersOf(this.client).map(async (node) => {
        for await (const keys of scanNode(node, this.#pattern, this.#scanCount, (p) => this.#run('clear', p))) {
          const pipeline = node.pipeline();
          for (const key of keys) pipeline.unlink(key);
          this.#check('clear', await this.#run('clear', pipeline.exec()));
        }
      }),
    );
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
    this.#expiry?.close();
    if (this.#ownsClient) {
      // QUIT lets replies in flight arrive; a dead server must not hold close() up.
      await withTimeout(this.client.quit(), this.#commandTimeout, 'close').catch(() => undefined);
      this.client.disconnect();
    }
    for (const [event, fn] of this.#listeners) this.client.off(event, fn);
  }

  #checkOpen(): void {
    if (this.#closed) throw new ScaleoutError(ErrorCodes.STORE_CLOSED, 'the Redis session store is closed');
  }

  /** A session in the string layout, or `undefined` (counted) when the value is not one. */
  #decodeString(id: string, raw: string | Buffer): SessionData | undefined {
    if (raw.length > this.#maxValueBytes) return this.#invalid(id);
    let value: unknown;
    try {
      value = this.#serializer.parse(raw);
    } catch {
      return this.#invalid(id);
    }
    return isSessionData(value) ? value : this.#invalid(id);
  }

  /** The hash of a whole session: its fields and the metadata of a full write. */
  #encode(data: SessionData, ttlMs: number): string[] {
    if (!isSessionData(data)) throw new InvalidArgumentError('data', 'session data must be a plain object');
    let pairs: string[];
    try {
      pairs = sessionFields(data, metaFields(ttlMs, Date.now(), true));
    } catch (err) {
      throw new InvalidArgumentError('data', `session values must be JSON: ${(err as Error).message}`);
    }
    this.#checkSize(pairs);
    return pairs;
  }

  #checkSize(pairs: readonly string[]): void {
    const bytes = byteSize(pairs);
    if (bytes > this.#maxValueBytes) {
      throw new InvalidArgumentError('data', `session ${bytes} bytes long exceeds maxValueBytes ${this.#maxValueBytes}`);
    }
  }

  /** Runs the replace script (see redis-scripts.ts): `expectedSha1` empty for an unconditional write. */
  #replace(operation: string, key: string, expectedSha1: string, px: number, pairs: string[]): Promise<number | IndexedReply> {
    const index = this.#index;
    const shadow = index ? index.shadow(key) : key;
    const field = index?.field ?? '';
    const shadowPx = px + SHADOW_MARGIN_MS;
    return this.#write(
      operation,
      () => this.client.scaleoutReplace(key, shadow, expectedSha1, px, field, shadowPx, ...pairs),
      (p) => p.scaleoutReplace(key, shadow, expectedSha1, px, field, shadowPx, ...pairs),
    );
  }

  #invalid(id: string): undefined {
    this.invalidValues++;
    // The id is a bearer credential: it goes to 'invalid' listeners, never to the log.
    debug('a stored value is not a session (%d so far)', this.invalidValues);
    this.emit('invalid', id);
    return undefined;
  }

  /**
   * Bounds `promise` by the operation's deadline and maps whatever it rejects with to a coded
   * error. A client built with a command timeout (as `createStore` builds it) times each command
   * out itself, so the extra timer is only set for a client that has none.
   */
  async #run<T>(operation: string, promise: Promise<T>, timeoutMs = this.#commandTimeout): Promise<T> {
    try {
      return await (this.#clientTimesOut ? promise : withTimeout(promise, timeoutMs, operation));
    } catch (err) {
      throw toStoreError(err, operation, timeoutMs);
    }
  }

  /** Throws the first error a pipeline's replies carry. */
  #check(operation: string, replies: [Error | null, unknown][] | null): [Error | null, unknown][] {
    if (!replies) throw new StoreUnavailableError(`session store ${operation}: the pipeline was discarded`);
    for (const [err] of replies) if (err) throw toStoreError(err, operation, this.#commandTimeout);
    return replies;
  }

  /**
   * Runs a write; with `waitReplicas`, sends it and `WAIT n timeout` in one pipeline (so on the
   * same connection, to the master that holds the key) and fails unless `n` replicas confirmed it.
   * Resolves with the write's own reply.
   */
  async #write<T>(operation: string, direct: () => Promise<T>, queued: (p: Pipeline) => unknown): Promise<T> {
    if (this.#waitReplicas === 0) return this.#run(operation, direct());
    const pipeline = this.client.pipeline() as Pipeline;
    queued(pipeline);
    const timeoutMs = this.#commandTimeout + this.#waitTimeout;
    // WAIT blocks for up to waitTimeout on the server, so it carries its own, longer timer
    // (ioredis only sets the client's command timeout on a command that has none yet).
    const wait = new Command('wait', [this.#waitReplicas, this.#waitTimeout]);
    if (this.#clientTimesOut) wait.setTimeout(timeoutMs);
    pipeline.sendCommand(wait);
    const replies = this.#check(operation, await this.#run(operation, pipeline.exec(), timeoutMs));
    const acknowledged = Number(replies[replies.length - 1]?.[1]);
    if (!(acknowledged >= this.#waitReplicas)) {
      throw new ReplicaAckError(operation, Number.isFinite(acknowledged) ? acknowledged : 0, this.#waitReplicas, this.#waitTimeout);
    }
    return replies[0]![1] as T;
  }
}

/** A pipeline with the store's scripts, and `sendCommand` for a command built here. */
type Pipeline = ReturnType<RedisClient['pipeline']> & ScriptedClient & { sendCommand(c: Command): unknown };

/** Tries a patch may take while other nodes keep rewriting a string-layout session under it. */
const MAX_PATCH_ATTEMPTS = 8;

/** A user field as a script replied it (a Buffer from the binary variant of the patch). */
function fieldText(v: unknown): string | undefined {
  return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
}

/** Redis refused a command for the key's type (a hash read as a string, a list read as a hash). */
function isWrongType(err: unknown): boolean {
  return err instanceof Error && /WRONGTYPE/.test(err.message);
}
