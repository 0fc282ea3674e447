import { hostPort, int, list, positiveDuration, schemaDefaults } from '@scaleout/core';
import type { IMap } from 'hazelcast-client';
import { z } from 'zod';
import type { HazelcastClient } from './hazelcast-client.js';

// The options of this package's types, written once: HazelcastStore's and HazelcastTransport's
// constructors validate with hazelcastStoreOptionsSchema and hazelcastTransportOptionsSchema,
// createStore()/createTransport() the config sections with
// hazelcastStoreConfigSchema and hazelcastTransportConfigSchema (the store's fields plus how to
// connect), and docs/configuration.md's tables are generated from them (scripts/config-reference.ts).

const connection = {
  /** Cluster members to connect to (`host:port`). */
  members: list(hostPort()).meta({ accepts: 'list of `host:port`', description: 'cluster members to connect to' }),
  /** The Hazelcast cluster name the members were started with. */
  clusterName: z.string().min(1).default('dev').meta({ accepts: 'string', description: 'the Hazelcast cluster name' }),
  /** Cluster user name, when the cluster requires credentials. */
  username: z.string().optional().meta({ accepts: 'string', description: 'cluster user name' }),
  /** Cluster password, with `username`. */
  password: z.string().optional().meta({ accepts: 'string', description: 'cluster password' }),
};

/** Fields that the config section and the constructor share. */
const storeFields = {
  /** Longest a map operation may take before it fails with `ERR_SCALEOUT_STORE_TIMEOUT`, in ms once validated. */
  commandTimeout: positiveDuration()
    .prefault('2s')
    .meta({ accepts: 'duration', description: 'longest a map operation may take before it fails with `ERR_SCALEOUT_STORE_TIMEOUT`' }),
  /** Largest serialized session accepted, in bytes. */
  maxValueBytes: int(1).default(1024 * 1024).meta({ accepts: 'whole number ≥ 1', description: 'largest serialized session accepted, in bytes' }),
  /** Ids fetched per page when listing sessions. */
  pageSize: int(1).default(1000).meta({ accepts: 'whole number ≥ 1', description: 'ids fetched per page when listing sessions' }),
};

/** The options of {@link HazelcastStore}, validated by its constructor. */
export const hazelcastStoreOptionsSchema = z.strictObject({
  /** The connected hazelcast-client. */
  client: z
    .custom<HazelcastClient>((c) => typeof (c as { getLifecycleService?: unknown } | null)?.getLifecycleService === 'function', 'expected a connected hazelcast-client')
    .meta({ description: 'the connected hazelcast-client' }),
  /** The IMap that holds this app's sessions (from `client.getMap(name)`). */
  map: z
    .custom<IMap<string, unknown>>((m) => typeof (m as { get?: unknown } | null)?.get === 'function', 'expected an IMap (from client.getMap(name))')
    .meta({ description: 'the IMap that holds this app\'s sessions (from `client.getMap(name)`)' }),
  /** Whether `close()` also shuts the client down; an app that hands over its own client keeps it. */
  ownsClient: z.boolean().default(false).meta({ description: 'whether `close()` also shuts the client down; an app that hands over its own client keeps it' }),
  ...storeFields,
});

/** Options of {@link HazelcastStore}, as given (durations as strings or ms). */
export type HazelcastStoreOptions = z.input<typeof hazelcastStoreOptionsSchema>;
/** Options of {@link HazelcastStore} with defaults applied and durations in ms. */
export type ResolvedHazelcastStoreOptions = z.output<typeof hazelcastStoreOptionsSchema>;

/** Defaults of {@link HazelcastStoreOptions}, from its schema. */
export const DEFAULT_HAZELCAST_STORE_OPTIONS = schemaDefaults(hazelcastStoreOptionsSchema);

/** `store: { type: "hazelcast" }`: sessions in a Hazelcast IMap. */
export const hazelcastStoreConfigSchema = z.strictObject({
  /** Always `"hazelcast"`. */
  type: z.literal('hazelcast'),
  ...connection,
  /** Name of the IMap that holds the sessions. */
  map: z.string().min(1).max(128).default('sessions').meta({ accepts: 'string ≤ 128', description: 'the IMap holding the sessions' }),
  /** Longest the first connection may take, in ms once validated. */
  connectTimeout: positiveDuration().prefault('5s').meta({ accepts: 'duration', description: 'longest the first connection may take' }),
  ...storeFields,
});

/** A `store: { type: "hazelcast" }` section as written (durations as strings or ms). */
export type HazelcastStoreConfigInput = z.input<typeof hazelcastStoreConfigSchema>;
/** A validated `store: { type: "hazelcast" }`, defaults filled in, durations in ms. */
export type HazelcastStoreConfig = z.output<typeof hazelcastStoreConfigSchema>;

/** The reliable topic's field, in the config section and the constructor. */
const topic = {
  /** Name of the reliable topic that carries the replication messages; clusters sharing a Hazelcast use different topics. */
  topic: z.string().min(1).max(128).default('scaleout').meta({ accepts: 'string ≤ 128', description: 'the reliable topic' }),
};

/** The options of {@link HazelcastTransport}, validated by its constructor. */
export const hazelcastTransportOptionsSchema = z.strictObject({
  ...connection,
  ...topic,
  /** Longest the first connection may take, in ms once validated. */
  connectTimeout: positiveDuration().prefault('10s').meta({ accepts: 'duration', description: 'longest the first connection may take' }),
});

/** Options of {@link HazelcastTransport}, as given (durations as strings or ms). */
export type HazelcastTransportOptions = z.input<typeof hazelcastTransportOptionsSchema>;
/** Options of {@link HazelcastTransport} with defaults applied and durations in ms. */
export type ResolvedHazelcastTransportOptions = z.output<typeof hazelcastTransportOptionsSchema>;

/** Defaults of {@link HazelcastTransportOptions}, from its schema. */
export const DEFAULT_HAZELCAST_TRANSPORT_OPTIONS = schemaDefaults(hazelcastTransportOptionsSchema);

/** `cluster.transport: { type: "hazelcast" }`: a Hazelcast reliable topic between the nodes of the `cluster` strategy. */
export const hazelcastTransportConfigSchema = z.strictObject({
  /** Always `"hazelcast"`. */
  type: z.literal('hazelcast'),
  ...connection,
  ...topic,
});
/** A `cluster.transport: { type: "hazelcast" }` section as written. */
export type HazelcastTransportConfigInput = z.input<typeof hazelcastTransportConfigSchema>;
/** A validated `cluster.transport: { type: "hazelcast" }`. */
export type HazelcastTransportConfig = z.output<typeof hazelcastTransportConfigSchema>;
