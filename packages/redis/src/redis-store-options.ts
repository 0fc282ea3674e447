import { bool, duration, hostPort, int, list, parseOptions, positiveDuration, redisUrl, schemaDefaults } from '@scaleout/core';
import { z } from 'zod';
import type { RedisClient } from './redis-client.js';
import { JSON_SERIALIZER, type Serializer } from './serializer.js';

// The options of RedisStore are written once, here: the constructor validates with
// redisStoreOptionsSchema, the `store: { type: "redis" }` config section with
// redisStoreConfigSchema (the same fields plus how to connect), and docs/configuration.md's
// table is generated from the latter (scripts/config-reference.ts).

/** Fields that the config section and the constructor share. */
const storeFields = {
  /** Prefix of every session key. */
  prefix: z.string().max(128).default('sess:').meta({ accepts: 'string ≤ 128', description: 'prefix of every session key' }),
  /** Prefix of the key of a session's lock (`lock()`), `"lock:" + prefix` by default; must not start with `prefix`, so that locks are never listed as sessions. */
  lockPrefix: z
    .string()
    .min(1)
    .optional()
    .meta({ accepts: 'string', default: '`"lock:" + prefix`', description: 'prefix of the key of a session\'s lock (`lock()`); must not start with `prefix`, so that locks are never listed as sessions' }),
  /** Prefix of the keys of the index of sessions by user, `"user:" + prefix` by default; must neither start with `prefix` nor be a beginning of it. */
  userPrefix: z
    .string()
    .min(1)
    .optional()
    .meta({ accepts: 'string', default: '`"user:" + prefix`', description: 'prefix of the keys of the index of sessions by user; must neither start with `prefix` nor be a beginning of it' }),
  /** `"connect-redis"`: sessions connect-redis 8 left under `prefix` are read, and rewritten as hashes on their next save. */
  migrateFrom: z.literal('connect-redis').optional().meta({
    accepts: '`"connect-redis"`',
    description: 'sessions connect-redis 8 left under `prefix` are read, and rewritten as hashes on their next save (docs/redis.md, "Moving from connect-redis")',
  }),
  /**
   * Replicas that must confirm each write (`WAIT`); fewer within `waitTimeout` fails the write.
   * Equal to the number of replicas, an acknowledged write survives any failover; fewer keep it
   * only when Sentinel promotes a replica that confirmed it (docs/redis.md). `0`: no waiting.
   */
  waitReplicas: int(0, 16).default(0).meta({
    accepts: '0–16',
    description: 'replicas that must confirm each write (`WAIT`); fewer within `waitTimeout` fails the write (a `503`); set to the number of replicas so that an acknowledged write survives any failover (docs/redis.md, "`waitReplicas`")',
  }),
  /** How long a write waits for the confirmations of `waitReplicas` replicas, in ms once validated. */
  waitTimeout: duration().prefault('1s').meta({ accepts: 'duration', description: 'how long a write waits for those confirmations' }),
  /** Longest a Redis command may take (plus `waitTimeout` for a write that waits) before it fails with `ERR_SCALEOUT_STORE_TIMEOUT`, in ms once validated. */
  commandTimeout: positiveDuration()
    .prefault('1s')
    .meta({ accepts: 'duration', description: 'longest a Redis command may take (plus `waitTimeout` for a write that waits) before it fails with `ERR_SCALEOUT_STORE_TIMEOUT`' }),
  /** Largest serialized session accepted, in bytes. */
  maxValueBytes: int(1).default(1024 * 1024).meta({ accepts: 'whole number ≥ 1', description: 'largest serialized session accepted, in bytes' }),
  /** Keys asked per `SCAN` page when listing, counting and clearing sessions. */
  scanCount: int(1, 100_000).default(1000).meta({ accepts: '1–100000', description: 'keys asked per SCAN page when listing, counting and clearing sessions' }),
};

type Prefixes = { prefix: string; lockPrefix?: string | undefined; userPrefix?: string | undefined };

/** The lock and user-index prefixes, defaults applied. */
export function prefixesOf(o: Prefixes): {
  /** `lockPrefix` as given, or `"lock:" + prefix`. */
  lockPrefix: string;
  /** `userPrefix` as given, or `"user:" + prefix`. */
  userPrefix: string;
} {
  return { lockPrefix: o.lockPrefix ?? `lock:${o.prefix}`, userPrefix: o.userPrefix ?? `user:${o.prefix}` };
}

// With an empty prefix every key could be a session: lock() and indexUsers() are then refused instead.
function checkPrefixes(o: Prefixes, ctx: z.RefinementCtx): void {
  if (o.prefix === '') return;
  const { lockPrefix, userPrefix } = prefixesOf(o);
  if (lockPrefix.startsWith(o.prefix)) ctx.addIssue({ code: 'custom', path: ['lockPrefix'], message: `expected a prefix that does not start with prefix ${JSON.stringify(o.prefix)}` });
  if (userPrefix.startsWith(o.prefix) || o.prefix.startsWith(userPrefix)) {
    ctx.addIssue({ code: 'custom', path: ['userPrefix'], message: `expected a prefix that neither starts with prefix ${JSON.stringify(o.prefix)} nor begins it` });
  }
}

/** The options of {@link RedisStore}, validated by its constructor. */
export const redisStoreOptionsSchema = z
  .strictObject({
    /** The ioredis client (`Redis` or `Cluster`), connected or connecting; the store defines its Lua commands on it. */
    client: z
      .custom<RedisClient>((c) => typeof (c as { pipeline?: unknown } | null)?.pipeline === 'function', 'expected an ioredis client (Redis or Cluster)')
      .meta({ description: 'the ioredis client (`Redis` or `Cluster`), connected or connecting; the store defines its Lua commands on it' }),
    /** Whether `close()` also closes the client; an app that hands over its own client keeps it. */
    ownsClient: z.boolean().default(false).meta({ description: 'whether `close()` also closes the client; an app that hands over its own client keeps it' }),
    /** Reads sessions still stored in the string layout of scaleout 0.1 (written with this serializer then); JSON by default. */
    serializer: z
      .custom<Serializer>((s) => typeof (s as { parse?: unknown } | null)?.parse === 'function' && typeof (s as { stringify?: unknown }).stringify === 'function', 'expected { parse, stringify }')
      .optional()
      .meta({ default: 'JSON', description: 'reads sessions still stored in the string layout of scaleout 0.1 (written with this serializer then)' }),
    /**
     * How long after a save is sent Redis may still apply it, in ms once validated: a save that
     * reaches Redis later (held up behind other commands, or resent by ioredis after a reconnect)
     * is refused there, so a save its caller gave up on never lands over a newer one. Read on
     * Redis's clock (docs/redis.md, "Late writes"). `false`: no deadline. `createStrategy()` sets
     * the shorter of `commandTimeout` and `session.storeTimeout`.
     * @default commandTimeout
     */
    writeDeadline: z
      .union([z.literal(false), positiveDuration()])
      .optional()
      .meta({ accepts: 'duration or `false`', default: '`commandTimeout`', description: 'how long after a save is sent Redis may still apply it; later, Redis refuses it' }),
    ...storeFields,
  })
  .superRefine(checkPrefixes);

/** Options of {@link RedisStore}, as given (durations as strings or ms). */
export type RedisStoreOptions = z.input<typeof redisStoreOptionsSchema>;
/** Options of {@link RedisStore} with defaults applied and durations in ms. */
export type ResolvedRedisStoreOptions = z.output<typeof redisStoreOptionsSchema>;

/** Defaults of {@link RedisStoreOptions}, from its schema. */
export const DEFAULT_REDIS_STORE_OPTIONS = schemaDefaults(redisStoreOptionsSchema);

/** `store: { type: "redis" }`: exactly one of `url`, `sentinels` + `name`, or `nodes`, and the store's own options. */
export const redisStoreConfigSchema = z
  .strictObject({
    /** Always `"redis"`. */
    type: z.literal('redis'),
    /** A standalone server, as a `redis://` or `rediss://` URL. */
    url: redisUrl().optional().meta({ accepts: '`redis://` or `rediss://` URL', description: 'a standalone server' }),
    /** Sentinel addresses (`host:port`), with `name`. */
    sentinels: list(hostPort()).optional().meta({ accepts: 'list of `host:port`', description: 'Sentinel addresses' }),
    /** The master group name the Sentinels watch. */
    name: z.string().min(1).optional().meta({ accepts: 'string', description: 'the master group name the Sentinels watch' }),
    /** Redis Cluster seed nodes (`host:port`). */
    nodes: list(hostPort()).optional().meta({ accepts: 'list of `host:port`', description: 'Redis Cluster seed nodes' }),
    /** ACL user name. */
    username: z.string().optional().meta({ accepts: 'string', description: 'ACL user name' }),
    /** Password of the ACL user, or `requirepass`. */
    password: z.string().optional().meta({ accepts: 'string', description: 'password of the ACL user, or `requirepass`' }),
    /** The Sentinels' own password. */
    sentinelPassword: z.string().optional().meta({ accepts: 'string', description: 'the Sentinels\' own password' }),
    /** Database number, 0–15 (not with Cluster). */
    db: int(0, 15).optional().meta({ accepts: '0–15', description: 'database number (not with Cluster)' }),
    /** An encrypted connection: `true`, or Node.js TLS options. */
    tls: z.union([bool(), z.record(z.string(), z.unknown())]).optional().meta({ accepts: '`true` or Node.js TLS options', description: 'an encrypted connection' }),
    /** Longest the first connection may take, in ms once validated; an unreachable address fails start-up naming it. */
    connectTimeout: positiveDuration()
      .prefault('2s')
      .meta({ accepts: 'duration', description: 'longest the first connection may take; an unreachable address fails start-up naming it' }),
    ...storeFields,
  })
  .superRefine((v, ctx) => {
    const shapes = [v.url !== undefined, v.sentinels !== undefined, v.nodes !== undefined].filter(Boolean).length;
    if (shapes !== 1) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'give exactly one of "url" (standalone), "sentinels" + "name" (Sentinel) or "nodes" (Cluster)' });
    }
    if (v.sentinels !== undefined && v.name === undefined) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: 'Sentinel needs "name", the master group name' });
    }
    checkPrefixes(v, ctx);
  });

/** A `store: { type: "redis" }` section as written (durations as strings or ms). */
export type RedisStoreConfigInput = z.input<typeof redisStoreConfigSchema>;
/** A validated `store: { type: "redis" }`, defaults filled in, durations in ms. */
export type RedisStoreConfig = z.output<typeof redisStoreConfigSchema>;

/** The fields of a validated config section that are options of the store itself. */
export function storeOptionsOf(config: RedisStoreConfig): Omit<ResolvedRedisStoreOptions, 'client' | 'ownsClient' | 'serializer'> {
  const { prefix, lockPrefix, userPrefix, migrateFrom, waitReplicas, waitTimeout, commandTimeout, maxValueBytes, scanCount } = config;
  return { prefix, lockPrefix, userPrefix, migrateFrom, waitReplicas, waitTimeout, commandTimeout, maxValueBytes, scanCount };
}

/** What the store's parts read: the options validated, defaults and both prefixes filled in, the serializer chosen. */
export interface RedisStoreSettings extends Omit<ResolvedRedisStoreOptions, 'lockPrefix' | 'userPrefix' | 'serializer'> {
  /** Prefix of a session's lock key, default applied. */
  lockPrefix: string;
  /** Prefix of the keys of the index of sessions by user, default applied. */
  userPrefix: string;
  /** Reads sessions in the string layout of scaleout 0.1: the one given, or JSON (always JSON with `migrateFrom: "connect-redis"`). */
  serializer: Serializer;
}

/** Validates the options of {@link RedisStore} with its schema (a `ConfigError` naming the field) and fills in what its parts read. */
export function resolveRedisStoreOptions(options: RedisStoreOptions): RedisStoreSettings {
  const o = parseOptions(redisStoreOptionsSchema, options ?? {});
  // A session connect-redis wrote is JSON, whatever serializer 0.1 sessions were written with.
  return { ...o, ...prefixesOf(o), serializer: o.migrateFrom === 'connect-redis' ? JSON_SERIALIZER : (o.serializer ?? JSON_SERIALIZER) };
}
