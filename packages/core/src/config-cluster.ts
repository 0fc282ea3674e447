import { z } from 'zod';
import { duration, hostPort, int, list, redisUrl } from './config-fields.js';
import type { Transport } from './types.js';
import type { PluginContext } from './strategy.js';

/** `cluster.transport: { type: "in-process" }`. */
export const inProcessTransportSchema = z.strictObject({
  /** Messages between stores of this process (tests, one-machine demos). */
  type: z.literal('in-process'),
  /** Name of the in-process bus; stores on the same bus are peers. @default "default" */
  bus: z.string().min(1).default('default'),
});

/** `cluster.transport: { type: "redis" }`. */
export const redisTransportSchema = z.strictObject({
  /** Redis pub/sub. */
  type: z.literal('redis'),
  /** The Redis server that carries the messages. */
  url: redisUrl(),
  /** Pub/sub channel. @default "scaleout" */
  channel: z.string().min(1).max(128).default('scaleout'),
  /** ACL user name. */
  username: z.string().optional(),
  /** Password of the ACL user, or `requirepass`. */
  password: z.string().optional(),
});

/** `cluster.transport: { type: "hazelcast" }`. */
export const hazelcastTransportSchema = z.strictObject({
  /** A Hazelcast reliable topic. */
  type: z.literal('hazelcast'),
  /** Cluster members, `host:port`. */
  members: list(hostPort()),
  /** The Hazelcast cluster name. @default "dev" */
  clusterName: z.string().min(1).default('dev'),
  /** Name of the reliable topic. @default "scaleout" */
  topic: z.string().min(1).max(128).default('scaleout'),
  /** Cluster user name. */
  username: z.string().optional(),
  /** Cluster password. */
  password: z.string().optional(),
});

/** `cluster.transport`: one of the shapes, told apart by `type`. */
export const transportSchema = z.discriminatedUnion('type', [inProcessTransportSchema, redisTransportSchema, hazelcastTransportSchema]);

/** The `cluster` section. */
export const clusterSchema = z.strictObject({
  /** How replication messages travel between nodes. */
  transport: transportSchema,
  /** Longest a joining node waits for its snapshot before start-up fails. */
  readyTimeout: duration().default(30_000),
  /** How often nodes compare digests to repair divergence. */
  antiEntropyInterval: duration().default(10_000),
  /** How long a new node waits for a peer to answer before it takes itself for the first node. */
  discoveryWait: duration().default(500),
  /** Largest replication message accepted, in bytes. */
  maxMessageBytes: int(16 * 1024, 512 * 1024 * 1024).default(4 * 1024 * 1024),
});

/** A validated `cluster.transport`. */
export type TransportConfig = z.output<typeof transportSchema>;
/** A validated `cluster` section, durations in ms. */
export type ClusterConfig = z.output<typeof clusterSchema>;
/** A validated `cluster.transport: { type: "in-process" }`. */
export type InProcessTransportConfig = z.output<typeof inProcessTransportSchema>;
/** A validated `cluster.transport: { type: "redis" }`. */
export type RedisTransportConfig = z.output<typeof redisTransportSchema>;
/** A validated `cluster.transport: { type: "hazelcast" }`. */
export type HazelcastTransportConfig = z.output<typeof hazelcastTransportSchema>;

/** What `@scaleout/redis` and `@scaleout/hazelcast` export for the `cluster` strategy's transport. */
export interface TransportPlugin {
  /** Opens the transport `config` describes; resolves once it can publish and receive. */
  createTransport(config: TransportConfig, context: PluginContext): Promise<Transport>;
}
