import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import {
  checkSessionId,
  checkTtl,
  ErrorCodes,
  InvalidArgumentError,
  LockTimeoutError,
  ScaleoutError,
  StoreUnavailableError,
  withTimeout,
  type LockOptions,
  type SessionData,
  type SessionPatch,
  type SessionStore,
} from '@scaleout/core';
import type { RedisClient } from './redis-client.js';
import { RedisClock } from './redis-clock.js';
import { RedisCommandRunner } from './redis-command-runner.js';
import { mastersOf, prefixPattern, scanNode } from './redis-scan.js';
import { withScripts, type ScriptedClient } from './redis-scripts.js';
import { RedisSessionLayout } from './redis-session-layout.js';
import { RedisSessionWrites } from './redis-session-writes.js';
import { resolveRedisStoreOptions, type RedisStoreOptions } from './redis-store-options.js';
import { RedisSessionIndex } from './redis-session-index.js';
import { UserIndexKeys } from './redis-user-index.js';
import { fieldOf } from './serializer.js';


const debug = debuglog('scaleout:redis-store');

/**
 * Sessions in Redis (standalone, Sentinel or Cluster: the same code for all three). Each session
 * is one hash under `prefix + id`: a field per top-level key holding its JSON, and metadata
 * fields (see {@link META}). A read is one `HGETALL`, a save of what a request changed one Lua
 * script with no read first, a touch one `PEXPIRE`; a session is one key, so all of it lives on
 * one Cluster slot. A session in the older string layout (scaleout 0.1, connect-redis) is read
 * too and rewritten as a hash on its next save (redis-session-layout.ts; the writes are in
 * redis-session-writes.ts). Listing, counting and clearing SCAN every master page by page and
 * delete key by key, so no multi-key command ever spans Cluster slots. Every call fails fast with
 * a coded error while Redis is unreachable, and the store emits `down` and `up` as the
 * connection goes and comes back.
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
  readonly #runner: RedisCommandRunner;
  readonly #layout: RedisSessionLayout;
  readonly #writes: RedisSessionWrites;
  readonly #scanCount: number;
  readonly #pattern: string;
  #available: boolean;
  #everReady: boolean;
  #users: RedisSessionIndex | undefined;
  #closed: Promise<void> | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly #listeners: [string, (...args: any[]) => void][];

  constructor(options: RedisStoreOptions) {
    super();
    const o = resolveRedisStoreOptions(options);
    this.client = withScripts(o.client);
    this.prefix = o.prefix;
    this.lockPrefix = o.lockPrefix;
    this.userPrefix = o.userPrefix;
    this.#pattern = prefixPattern(o.prefix);
    this.#ownsClient = o.ownsClient;
    this.#scanCount = o.scanCount;
    const invalid = (id: string) => this.#invalid(id);
    this.#runner = new RedisCommandRunner(this.client, o);
    this.#layout = new RedisSessionLayout(this.#runner, { serializer: o.serializer, maxValueBytes: o.maxValueBytes, invalid });
    const clock = new RedisClock(this.client);
    this.#writes = new RedisSessionWrites(this.#runner, this.#layout, { prefix: o.prefix, index: () => this.#users?.keys, invalid, clock, writeDeadline: o.writeDeadline ?? o.commandTimeout });
    this.#available = this.client.status === 'ready';
    if (this.#available) void clock.measure();
    this.#everReady = this.#available;

    let lastError: Error | undefined;
    const onReady = () => {
      // Each connection may reach another server (a failover, a Cluster node): its clock is read again.
      void clock.measure();
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
    return this.#layout.read(id, this.prefix + id);
  }

  /** Replaces the whole session (a new one, a regenerated one) with one script: delete, write the hash, set its expiry. */
  async set(id: string, data: SessionData, ttlMs: number): Promise<void> {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    await this.#writes.set(id, data, Math.max(1, Math.ceil(ttlMs)));
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
    return this.#writes.patch(id, patch, Math.max(1, Math.ceil(ttlMs)));
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
    await this.#writes.touch(id, Math.max(1, Math.ceil(ttlMs)));
  }

  /** Removes the session; with `waitReplicas`, a logout is confirmed by replicas too, so a failover cannot revive it. */
  async destroy(id: string): Promise<void> {
    this.#checkOpen();
    checkSessionId(id);
    await this.#writes.destroy(id);
  }

  /**
   * Starts keeping the index of sessions by user (docs/sessions-by-user.md): each save, touch
   * and destroy keeps the user's set, and an expiry takes the id out of it and emits `expired`
   * (id, userId) on every store subscribed, through keyspace notifications (see
   * redis-expiry-listener.ts for when they are not available). Refused with an empty prefix.
   */
  indexUsers(userKey: string): void {
    this.#checkOpen();
    if (this.prefix === '') throw new InvalidArgumentError('prefix', 'indexUsers() needs a non-empty prefix: with an empty one, index keys would be listed as sessions');
    if (this.#users) return;
    const keys = new UserIndexKeys(this.userPrefix, userKey, fieldOf(userKey));
    this.#users = new RedisSessionIndex(this.#runner, keys, {
      prefix: this.prefix,
      invalid: (value) => this.#invalid(value),
      expired: (id, userId) => this.emit('expired', id, userId),
    });
  }

  /**
   * The ids in the user's set that still name a session: one `SMEMBERS`, one `EXISTS` per id (on
   * the node that holds it), and one `SREM` of those that are gone. A set that is not a set, or
   * members that cannot be session ids, are counted in `invalidValues` and dropped.
   */
  async sessionsOf(userId: string): Promise<string[]> {
    this.#checkOpen();
    return this.#users ? this.#users.sessionsOf(userId) : [];
  }

  /**
   * Claims the `expired` event of session `id` for `nodeId` (`sessions.events: "once"`): one
   * `SET userPrefix + "x:" + key nodeId NX PX 60000`, a single key, so the same on a Cluster.
   * Exactly one of the nodes that claim it gets `true`.
   */
  async claimExpired(id: string, nodeId: string): Promise<boolean> {
    this.#checkOpen();
    if (!this.#users) throw new InvalidArgumentError('claimExpired', 'claimExpired() needs the index of sessions by user (indexUsers)');
    return this.#users.claimExpired(id, nodeId);
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
          this.#runner.check('clear', await this.#run('clear', pipeline.exec()));
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
    this.#users?.close();
    if (this.#ownsClient) {
      // QUIT lets replies in flight arrive; a dead server must not hold close() up.
      await withTimeout(this.client.quit(), this.#runner.commandTimeout, 'close').catch(() => undefined);
      this.client.disconnect();
    }
    for (const [event, fn] of this.#listeners) this.client.off(event, fn);
  }

  #checkOpen(): void {
    if (this.#closed) throw new ScaleoutError(ErrorCodes.STORE_CLOSED, 'the Redis session store is closed');
  }

  #invalid(id: string): undefined {
    this.invalidValues++;
    // The id is a bearer credential: it goes to 'invalid' listeners, never to the log.
    debug('a stored value is not a session (%d so far)', this.invalidValues);
    this.emit('invalid', id);
    return undefined;
  }

  #run<T>(operation: string, promise: Promise<T>): Promise<T> {
    return this.#runner.run(operation, promise);
  }
}
