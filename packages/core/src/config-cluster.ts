import { z } from 'zod';
import { duration, int, packageName, positiveDuration, typeName } from './config-fields.js';
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

/**
 * The `cluster` fields that are also options of `@scaleout/cluster`'s `ReplicatedStore`: written
 * once, here, with their bounds and defaults; the store's options schema spreads them, so the
 * section and the constructor accept the same values and fill in the same defaults.
 */
export const clusterStoreFields = {
  /** Longest a joining node waits for its snapshot before start-up fails (`ERR_SCALEOUT_NOT_READY`), in ms once validated. */
  readyTimeout: positiveDuration()
    .prefault('30s')
    .meta({ accepts: 'duration', description: 'longest a joining node waits for its snapshot before start-up fails' }),
  /** How often nodes compare digests to repair divergence, in ms once validated. */
  antiEntropyInterval: duration()
    .refine((ms) => ms >= 50, 'expected at least 50 ms')
    .prefault('10s')
    .meta({ accepts: 'duration ≥ 50ms', description: 'how often nodes compare digests to repair divergence' }),
  /** How long a new node waits for a peer to answer before it takes itself for the first node, in ms once validated. */
  discoveryWait: positiveDuration()
    .prefault('500ms')
    .meta({ accepts: 'duration', description: 'how long the first node of a cluster waits for peers before it is ready on its own' }),
  /** Largest replication message sent or accepted, in bytes; larger incoming ones are dropped and counted. */
  maxMessageBytes: int(16 * 1024, 512 * 1024 * 1024)
    .default(4 * 1024 * 1024)
    .meta({ accepts: '16 KiB – 512 MiB', default: '4 MiB', description: 'largest replication message accepted' }),
};

/** The `cluster` section. */
export const clusterSchema = z.strictObject({
  /** How replication messages travel between nodes. */
  transport: transportSectionSchema.meta({ accepts: 'object', description: 'how nodes reach each other (below)' }),
  ...clusterStoreFields,
});

/**
 * A `cluster.transport` section: `type`, maybe `package`, and the fields of its type. The
 * packages export the validated shape of theirs (`RedisTransportConfig` in `@scaleout/redis`, …).
 */
export type TransportConfig = TypedSection;
/** A validated `cluster` section, durations in ms. */
export type ClusterConfig = z.output<typeof clusterSchema>;
