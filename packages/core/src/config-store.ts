import { z } from 'zod';
import { bool, duration, hostPort, int, list, redisUrl } from './config-fields.js';
import { ConfigError, describeValue } from './errors.js';

/** `store: { type: "memory" }`. */
export const memoryStoreSchema = z.strictObject({
  /** Keeps sessions in this process's memory. */
  type: z.literal('memory'),
  /** Most sessions held; least recently used beyond it are evicted. 0 = no bound. @default 100000 */
  maxSessions: int(0).default(100_000),
});

/** `store: { type: "redis" }`: exactly one of `url`, `sentinels` + `name`, or `nodes`. */
export const redisStoreSchema = z
  .strictObject({
    /** Keeps sessions in Redis. */
    type: z.literal('redis'),
    /** A standalone server: `redis://` or `rediss://` (TLS). */
    url: redisUrl().optional(),
    /** Sentinel addresses, `host:port`; needs `name`. */
    sentinels: list(hostPort()).optional(),
    /** The master group name the Sentinels watch. */
    name: z.string().min(1).optional(),
    /** Redis Cluster seed nodes, `host:port`. */
    nodes: list(hostPort()).optional(),
    /** Prefix of every session key. @default "sess:" */
    prefix: z.string().max(128).default('sess:'),
    /** ACL user name. */
    username: z.string().optional(),
    /** Password of the ACL user, or `requirepass`. */
    password: z.string().optional(),
    /** Password of the Sentinels themselves. */
    sentinelPassword: z.string().optional(),
    /** Database number (standalone and Sentinel only). */
    db: int(0, 15).optional(),
    /** `true`, or Node.js TLS options, for an encrypted connection. */
    tls: z.union([bool(), z.record(z.string(), z.unknown())]).optional(),
    /** Replicas that must confirm each write (`WAIT`); fewer within `waitTimeout` fails the write. */
    waitReplicas: int(0, 16).default(0),
    /** How long a write waits for `waitReplicas` confirmations. @default "1s" */
    waitTimeout: duration().default(1000),
    /** Longest a Redis command may take before it fails. */
    commandTimeout: duration().default(1000),
    /** Longest the first connection may take. @default "2s" */
    connectTimeout: duration().default(2000),
    /**
     * Sessions another store left under `prefix`, read and rewritten in this store's layout on
     * their next save: `"connect-redis"` (connect-redis 8 with its JSON serializer).
     */
    migrateFrom: z.literal('connect-redis').optional(),
  })
  .superRefine((v, ctx) => {
    const shapes = [v.url !== undefined, v.sentinels !== undefined, v.nodes !== undefined].filter(Boolean).length;
    if (shapes !== 1) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'give exactly one of "url" (standalone), "sentinels" + "name" (Sentinel) or "nodes" (Cluster)' });
    }
    if (v.sentinels !== undefined && v.name === undefined) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: 'Sentinel needs "name", the master group name' });
    }
  });

/** `store: { type: "hazelcast" }`. */
export const hazelcastStoreSchema = z.strictObject({
  /** Keeps sessions in a Hazelcast IMap. */
  type: z.literal('hazelcast'),
  /** Cluster members, `host:port`. */
  members: list(hostPort()),
  /** The Hazelcast cluster name. @default "dev" */
  clusterName: z.string().min(1).default('dev'),
  /** Name of the IMap that holds the sessions. @default "sessions" */
  map: z.string().min(1).max(128).default('sessions'),
  /** Cluster user name. */
  username: z.string().optional(),
  /** Cluster password. */
  password: z.string().optional(),
  /** Longest the first connection may take. @default "5s" */
  connectTimeout: duration().default(5000),
  /** Longest a map operation may take before it fails. @default "2s" */
  commandTimeout: duration().default(2000),
});

/** `store`: one of the memory, Redis or Hazelcast shapes, told apart by `type`. */
export const storeSchema = z.discriminatedUnion('type', [memoryStoreSchema, redisStoreSchema, hazelcastStoreSchema]);

/** A validated `store: { type: "memory" }`. */
export type MemoryStoreConfig = z.output<typeof memoryStoreSchema>;
/** A validated `store: { type: "redis" }`, durations in ms. */
export type RedisStoreConfig = z.output<typeof redisStoreSchema>;
/** A validated `store: { type: "hazelcast" }`, durations in ms. */
export type HazelcastStoreConfig = z.output<typeof hazelcastStoreSchema>;
/** A validated `store` section. */
export type StoreConfig = z.output<typeof storeSchema>;

/**
 * Validates one `store` section on its own (for a store package given a config built by hand
 * rather than by `loadConfig()`), fills its defaults, and checks it is of the `type` the caller
 * serves. Throws `ConfigError` naming the field.
 */
export function parseStoreConfig<T extends StoreConfig['type']>(config: unknown, type: T): Extract<StoreConfig, { type: T }> {
  const got = (config as { type?: unknown } | null | undefined)?.type;
  if (got !== type) throw new ConfigError('store.type', `config store.type: got ${describeValue(got)}; this package serves "${type}"`);
  const result = storeSchema.safeParse(config);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = ['store', ...issue.path.map(String)].join('.');
    throw new ConfigError(field, `config ${field}: ${issue.message}`);
  }
  return result.data as Extract<StoreConfig, { type: T }>;
}
