import { z } from 'zod';
import { bool, duration, hostPort, int, list, redisUrl } from './config-fields.js';

/** `store: { type: "memory" }`. */
export const memoryStoreSchema = z.strictObject({
  type: z.literal('memory'),
  /** Most sessions held; least recently used beyond it are evicted. 0 = no bound. @default 100000 */
  maxSessions: int(0).default(100_000),
});

/** `store: { type: "redis" }`: exactly one of `url`, `sentinels` + `name`, or `nodes`. */
export const redisStoreSchema = z
  .strictObject({
    type: z.literal('redis'),
    url: redisUrl().optional(),
    sentinels: list(hostPort()).optional(),
    name: z.string().min(1).optional(),
    nodes: list(hostPort()).optional(),
    prefix: z.string().max(128).default('sess:'),
    username: z.string().optional(),
    password: z.string().optional(),
    sentinelPassword: z.string().optional(),
    db: int(0, 15).optional(),
    tls: z.union([bool(), z.record(z.string(), z.unknown())]).optional(),
    /** Replicas that must confirm each write (`WAIT`); fewer within `waitTimeout` fails the write. */
    waitReplicas: int(0, 16).default(0),
    waitTimeout: duration().default(1000),
    /** Longest a Redis command may take before it fails. */
    commandTimeout: duration().default(1000),
    connectTimeout: duration().default(2000),
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
  type: z.literal('hazelcast'),
  members: list(hostPort()),
  clusterName: z.string().min(1).default('dev'),
  map: z.string().min(1).max(128).default('sessions'),
  username: z.string().optional(),
  password: z.string().optional(),
  connectTimeout: duration().default(5000),
  commandTimeout: duration().default(2000),
});

export const storeSchema = z.discriminatedUnion('type', [memoryStoreSchema, redisStoreSchema, hazelcastStoreSchema]);

export type MemoryStoreConfig = z.output<typeof memoryStoreSchema>;
export type RedisStoreConfig = z.output<typeof redisStoreSchema>;
export type HazelcastStoreConfig = z.output<typeof hazelcastStoreSchema>;
export type StoreConfig = z.output<typeof storeSchema>;
