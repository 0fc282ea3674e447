import { z } from 'zod';
import { duration, hostPort, list, redisUrl } from './config-fields.js';

export const inProcessTransportSchema = z.strictObject({
  type: z.literal('in-process'),
  bus: z.string().min(1).default('default'),
});

export const redisTransportSchema = z.strictObject({
  type: z.literal('redis'),
  url: redisUrl(),
  channel: z.string().min(1).max(128).default('scaleout'),
  username: z.string().optional(),
  password: z.string().optional(),
});

export const hazelcastTransportSchema = z.strictObject({
  type: z.literal('hazelcast'),
  members: list(hostPort()),
  clusterName: z.string().min(1).default('dev'),
  topic: z.string().min(1).max(128).default('scaleout'),
  username: z.string().optional(),
  password: z.string().optional(),
});

export const transportSchema = z.discriminatedUnion('type', [inProcessTransportSchema, redisTransportSchema, hazelcastTransportSchema]);

export const clusterSchema = z.strictObject({
  transport: transportSchema,
  /** Longest a joining node waits for its snapshot before start-up fails. */
  readyTimeout: duration().default(30_000),
  /** How often nodes compare digests to repair divergence. */
  antiEntropyInterval: duration().default(10_000),
  /** Largest replication message accepted, in bytes. */
  maxMessageBytes: z.number().int().min(1024).default(4 * 1024 * 1024),
});

export type TransportConfig = z.output<typeof transportSchema>;
export type ClusterConfig = z.output<typeof clusterSchema>;
