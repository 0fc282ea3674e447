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
} from '@scaleout/core';
import { Cluster, Command } from 'ioredis';
import type { RedisClient } from './redis-client.js';
import { mastersOf, prefixPattern, scanNode } from './redis-scan.js';
import { ReplicaAckError, toStoreError } from './errors.js';
import { JSON_SERIALIZER, type Serializer } from './serializer.js';
import { sha1, withScripts, type ScriptedClient } from './redis-scripts.js';
import { RecentValues } from './recent-values.js';

const debug = debuglog('scaleout:redis-store');

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * The ioredis client (`Redis` or `Cluster`), connected or connecting. The store defines two
   * Lua commands on it (`scaleoutCompareAndSet`, `scaleoutReleaseLock`) for `patch` and `lock`.
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
   * Turns sessions into stored bytes and back.
   * @default JSON
   */
  serializer?: Serializer;
  /**
   * Replicas that must confirm each `set` and `destroy` (Redis `WAIT`) before it counts as done.
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
  ownsClient: false,
  prefix: 'sess:',
  waitReplicas: 0,
  waitTimeout: 1000,
  commandTimeout: 1000,
  maxValueBytes: 1024 * 1024,
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
 * is one string key `prefix + id` written with `SET … PX` and slid with `PEXPIRE`. Listing,
 * counting and clearing SCAN every master page by page and delete key by key, so no multi-key
 * command ever spans Cluster slots. Every call fails fast with a coded error while Redis is
 * unreachable, and the store emits `down` and `up` as the connection goes and comes back.
 */
export class RedisStore extends EventEmitter implements SessionStore {
  readonly client: RedisClient & ScriptedClient;
  readonly prefix: string;
  readonly lockPrefix: string;
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
  #closed: Promise<void> | undefined;
  readonly #patching = new Map<string, Promise<boolean>>();
  // The value each recent get() read, so that the patch of the same request can compare-and-set
  // against it without reading it again (one round trip per save, as a plain SET). Bounded.
  readonly #recent = new RecentValues();
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
    this.#pattern = prefixPattern(o.prefix);
    this.#ownsClient = o.ownsClient;
    this.#serializer = o.serializer ?? JSON_SERIALIZER;
    this.#waitReplicas = wholeNumber('waitReplicas', o.waitReplicas, 0, 16);
    this.#waitTimeout = parseDuration(o.waitTimeout, 'waitTimeout');
    this.#commandTimeout = parseDuration(o.commandTimeout, 'commandTimeout');
    if (this.#commandTimeout <= 0) throw new InvalidArgumentError('commandTimeout', `commandTimeout must be more than 0 ms, got ${this.#commandTimeout}`);
    this.#maxValueBytes = wholeNumber('maxValueBytes', o.maxValueBytes, 1);
    this.#scanCount = wholeNumber('scanCount', o.scanCount, 1, 100_000);
    const clientTimeout = this.client instanceof Cluster ? this.client.options.redisOptions?.commandTimeout : this.client.options.commandTimeout;
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

  async get(id: string): Promise<SessionData | undefined> {
    this.#checkOpen();
    checkSessionId(id);
    let raw: string | Buffer | null;
    try {
      const key = this.prefix + id;
      raw = await this.#run<string | Buffer | null>('get', this.#serializer.binary ? this.client.getBuffer(key) : this.client.get(key));
    } catch (err) {
      // A key of another type (a hash, a list) under the prefix is a value of the wrong shape.
      if (err instanceof ScaleoutError && /WRONGTYPE/.test(err.message)) return this.#invalid(id);
      throw err;
    }
    if (raw === null) return undefined;
    const value = this.#decode(id, raw);
    if (value) this.#recent.remember(id, raw);
    return value;
  }

  async set(id: string, data: SessionData, ttlMs: number): Promise<void> {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    const payload = this.#encode(data);
    this.#recent.take(id);
    const key = this.prefix + id;
    const px = Math.max(1, Math.ceil(ttlMs));
    await this.#write('set', () => this.client.set(key, payload as string, 'PX', px), (p) => p.set(key, payload as string, 'PX', px));
  }

  /**
   * Applies what one request changed (keys set and removed) to the stored session, so that
   * concurrent requests changing different keys all survive. Optimistic: the session is read,
   * patched here and written back only if it has not changed meanwhile (compared by SHA-1 in a
   * Lua script), else read again. Resolves `false`, writing nothing, when the session is gone.
   */
  async patch(id: string, patch: SessionPatch, ttlMs: number): Promise<boolean> {
    this.#checkOpen();
    checkSessionId(id);
    checkTtl(ttlMs);
    // Patches of one session from this process go one after the other: they would only make each
    // other retry. Other processes' patches are caught by the compare-and-set.
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
    const key = this.prefix + id;
    const px = Math.max(1, Math.ceil(ttlMs));
    let known = this.#recent.take(id);
    for (let attempt = 0; attempt < MAX_PATCH_ATTEMPTS; attempt++) {
      const raw = known ?? (await this.#run<string | Buffer | null>('patch', this.#serializer.binary ? this.client.getBuffer(key) : this.client.get(key)));
      known = undefined;
      const current = raw === null ? undefined : this.#decode(id, raw);
      if (raw === null || current === undefined) return false;
      const payload = this.#encode(applyPatch(current, patch));
      const result = await this.#write('patch', () => this.client.scaleoutCompareAndSet(key, sha1(raw), payload, px), (p) => p.scaleoutCompareAndSet(key, sha1(raw), payload, px));
      if (result === 1) return true;
      if (result === -1) return false;
      await new Promise((r) => setTimeout(r, Math.random() * 5 * (attempt + 1)));
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
    await this.#run('touch', this.client.pexpire(this.prefix + id, Math.max(1, Math.ceil(ttlMs))));
  }

  /** Removes the session; with `waitReplicas`, a logout is confirmed by replicas too, so a failover cannot revive it. */
  async destroy(id: string): Promise<void> {
    this.#checkOpen();
    checkSessionId(id);
    this.#recent.take(id);
    const key = this.prefix + id;
    await this.#write('destroy', () => this.client.unlink(key), (p) => p.unlink(key));
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

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(): Promise<void> {
    this.#available = false;
    this.#recent.clear();
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

  #decode(id: string, raw: string | Buffer): SessionData | undefined {
    let value: unknown;
    try {
      value = this.#serializer.parse(raw);
    } catch {
      return this.#invalid(id);
    }
    return isSessionData(value) ? value : this.#invalid(id);
  }

  #encode(data: SessionData): string | Buffer {
    if (!isSessionData(data)) throw new InvalidArgumentError('data', 'session data must be a plain object');
    const payload = this.#serializer.stringify(data);
    const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (bytes > this.#maxValueBytes) {
      throw new InvalidArgumentError('data', `session ${bytes} bytes long exceeds maxValueBytes ${this.#maxValueBytes}`);
    }
    return payload;
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

/** Reads and compare-and-set writes a patch may take when other requests keep changing the session. */
const MAX_PATCH_ATTEMPTS = 8;
