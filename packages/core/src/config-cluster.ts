import { z } from 'zod';
import { duration, int, packageName, typeName } from './config-fields.js';
import type { TypedSection } from './plugin-registry.js';

/**
 * `cluster.transport` as core reads it: a `type` and, for a type no built-in package provides,
 * the `package` that registers it. The transport's own fields are validated by its package's schema.
 */
export const transportSectionSchema = z.looseObject({
  /** The transport type: `"in-process"`, `"redis"`, `"hazelcast"`, or one a package registers. */
  type: typeName().meta({ description: 'the transport type: "in-process", "redis", "hazelcast", or one a package registers' }),
  /** The package that registers `type`, loaded when nothing registered it yet. */
  package: packageName().optional().meta({ description: 'the package that registers `type`, loaded when nothing registered it yet' }),
});

/** The `cluster` section. */
export const clusterSchema = z.strictObject({
  /** How replication messages travel between nodes. */
  transport: transportSectionSchema,
  /** Longest a joining node waits for its snapshot before start-up fails. */
  readyTimeout: duration().default(30_000),
  /** How often nodes compare digests to repair divergence. */
  antiEntropyInterval: duration().default(10_000),
  /** How long a new node waits for a peer to answer before it takes itself for the first node. */
  discoveryWait: duration().default(500),
  /** Largest replication message accepted, in bytes. */
  maxMessageBytes: int(16 * 1024, 512 * 1024 * 1024).default(4 * 1024 * 1024),
});

/**
 * A `cluster.transport` section: `type`, maybe `package`, and the fields of its type. The
 * packages export the validated shape of theirs (`RedisTransportConfig` in `@scaleout/redis`, …).
 */
export type TransportConfig = TypedSection;
/** A validated `cluster` section, durations in ms. */
export type ClusterConfig = z.output<typeof clusterSchema>;
