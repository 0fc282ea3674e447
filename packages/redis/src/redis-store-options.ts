import { InvalidArgumentError, parseDuration, type Duration } from '@scaleout/core';
import type { RedisClient } from './redis-client.js';
import { JSON_SERIALIZER, type Serializer } from './serializer.js';

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
  ownsClient: false,
  prefix: 'sess:',
  waitReplicas: 0,
  waitTimeout: 1000,
  commandTimeout: 1000,
  maxValueBytes: 1024 * 1024,
  scanCount: 1000,
} as const satisfies Omit<RedisStoreOptions, 'client'>;

/** {@link RedisStoreOptions} checked, with every default filled in and durations in ms. */
export interface ResolvedRedisStoreOptions {
  client: RedisClient;
  ownsClient: boolean;
  prefix: string;
  lockPrefix: string;
  userPrefix: string;
  serializer: Serializer;
  waitReplicas: number;
  waitTimeout: number;
  commandTimeout: number;
  maxValueBytes: number;
  scanCount: number;
}

function wholeNumber(field: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(field, `${field} must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Checks the options of a {@link RedisStore}, throwing `InvalidArgumentError` with the field, the value and what is allowed. */
export function resolveRedisStoreOptions(options: RedisStoreOptions): ResolvedRedisStoreOptions {
  if (!options || typeof options.client?.pipeline !== 'function') {
    throw new InvalidArgumentError('client', 'RedisStore needs an ioredis client (Redis or Cluster) in options.client');
  }
  const o = { ...DEFAULT_REDIS_STORE_OPTIONS, ...options };
  if (typeof o.prefix !== 'string' || o.prefix.length > 128) {
    throw new InvalidArgumentError('prefix', `prefix must be a string of at most 128 characters, got ${String(o.prefix)}`);
  }
  const lockPrefix = o.lockPrefix ?? `lock:${o.prefix}`;
  // With an empty prefix every key could be a session: lock() is then refused rather than this.
  if (typeof lockPrefix !== 'string' || lockPrefix === '' || (o.prefix !== '' && lockPrefix.startsWith(o.prefix))) {
    throw new InvalidArgumentError('lockPrefix', `lockPrefix must be a non-empty string that does not start with prefix ${JSON.stringify(o.prefix)}, got ${JSON.stringify(lockPrefix)}`);
  }
  const userPrefix = o.userPrefix ?? `user:${o.prefix}`;
  // With an empty prefix every key could be a session: indexUsers() is then refused rather than this.
  if (typeof userPrefix !== 'string' || userPrefix === '' || (o.prefix !== '' && (userPrefix.startsWith(o.prefix) || o.prefix.startsWith(userPrefix)))) {
    throw new InvalidArgumentError('userPrefix', `userPrefix must be a non-empty string that neither starts with prefix ${JSON.stringify(o.prefix)} nor begins it, got ${JSON.stringify(userPrefix)}`);
  }
  if (o.migrateFrom !== undefined && o.migrateFrom !== 'connect-redis') {
    throw new InvalidArgumentError('migrateFrom', `migrateFrom must be "connect-redis" or left out, got ${JSON.stringify(o.migrateFrom)}`);
  }
  const commandTimeout = parseDuration(o.commandTimeout, 'commandTimeout');
  if (commandTimeout <= 0) throw new InvalidArgumentError('commandTimeout', `commandTimeout must be more than 0 ms, got ${commandTimeout}`);
  return {
    client: o.client,
    ownsClient: o.ownsClient,
    prefix: o.prefix,
    lockPrefix,
    userPrefix,
    serializer: o.migrateFrom === 'connect-redis' ? JSON_SERIALIZER : (o.serializer ?? JSON_SERIALIZER),
    waitReplicas: wholeNumber('waitReplicas', o.waitReplicas, 0, 16),
    waitTimeout: parseDuration(o.waitTimeout, 'waitTimeout'),
    commandTimeout,
    maxValueBytes: wholeNumber('maxValueBytes', o.maxValueBytes, 1),
    scanCount: wholeNumber('scanCount', o.scanCount, 1, 100_000),
  };
}
