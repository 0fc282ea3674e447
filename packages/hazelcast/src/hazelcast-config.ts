import { duration, hostPort, list } from '@scaleout/core';
import { z } from 'zod';

// The config sections of this package's types, written once: createStore()/createTransport()
// validate with them, and docs/configuration.md's tables are generated from them
// (scripts/config-reference.ts).

const connection = {
  members: list(hostPort()).meta({ accepts: 'list of `host:port`', description: 'cluster members to connect to' }),
  clusterName: z.string().min(1).default('dev').meta({ accepts: 'string', description: 'the Hazelcast cluster name' }),
  username: z.string().optional().meta({ accepts: 'string', description: 'cluster user name' }),
  password: z.string().optional().meta({ accepts: 'string', description: 'cluster password' }),
};

const positiveDuration = () => duration().refine((ms) => ms > 0, 'expected more than 0 ms');

/** `store: { type: "hazelcast" }`: sessions in a Hazelcast IMap. */
export const hazelcastStoreConfigSchema = z.strictObject({
  type: z.literal('hazelcast'),
  ...connection,
  map: z.string().min(1).max(128).default('sessions').meta({ accepts: 'string ≤ 128', description: 'the IMap holding the sessions' }),
  connectTimeout: positiveDuration().prefault('5s').meta({ accepts: 'duration', description: 'longest the first connection may take' }),
  commandTimeout: positiveDuration().prefault('2s').meta({ accepts: 'duration', description: 'longest a map operation may take' }),
});

/** A `store: { type: "hazelcast" }` section as written (durations as strings or ms). */
export type HazelcastStoreConfigInput = z.input<typeof hazelcastStoreConfigSchema>;
/** A validated `store: { type: "hazelcast" }`, defaults filled in, durations in ms. */
export type HazelcastStoreConfig = z.output<typeof hazelcastStoreConfigSchema>;

/** `cluster.transport: { type: "hazelcast" }`: a Hazelcast reliable topic between the nodes of the `cluster` strategy. */
export const hazelcastTransportConfigSchema = z.strictObject({
  type: z.literal('hazelcast'),
  ...connection,
  topic: z.string().min(1).max(128).default('scaleout').meta({ accepts: 'string ≤ 128', description: 'the reliable topic' }),
});

/** A `cluster.transport: { type: "hazelcast" }` section as written. */
export type HazelcastTransportConfigInput = z.input<typeof hazelcastTransportConfigSchema>;
/** A validated `cluster.transport: { type: "hazelcast" }`. */
export type HazelcastTransportConfig = z.output<typeof hazelcastTransportConfigSchema>;
