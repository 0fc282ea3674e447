import { clusterStoreFields, duration, parseOptions, positiveDuration, schemaDefaults, type Transport } from '@scaleout/core';
import { z } from 'zod';

// The options of ReplicatedStore are written once, here. The fields the `cluster` config section
// shares (readyTimeout, antiEntropyInterval, discoveryWait, maxMessageBytes) come from core's
// clusterStoreFields, so the section and the constructor have one set of bounds and defaults.

/** A duration of at least `min` ms. */
const atLeast = (min: number) => duration().refine((ms) => ms >= min, `expected at least ${min} ms`);

const isTransport = (t: unknown): t is Transport => {
  const o = t as Partial<Transport> | null | undefined;
  return typeof o?.publish === 'function' && typeof o.start === 'function' && typeof o.on === 'function';
};

/** The options of {@link ReplicatedStore}, validated by its constructor. */
export const replicatedStoreOptionsSchema = z.strictObject({
  /** This node's id: unique in the cluster, the last tie-break between concurrent writes. */
  nodeId: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected 1 to 128 letters, digits or . _ : -'),
  /** Cluster secrets, newest first: the first signs frames, all verify. */
  secret: z
    .union([z.string().min(1).transform((s) => [s]), z.array(z.string().min(1)).min(1).readonly()], {
      error: 'expected a non-empty string or a non-empty array of non-empty strings, newest first',
    })
    .transform((s) => [...s]),
  /** What carries frames between nodes. The store starts and closes it. */
  transport: z.custom<Transport>(isTransport, 'expected a Transport (start, publish, close, events)'),
  ...clusterStoreFields,
  /** Expiries are rounded up to this step, so touches within one step cost nothing to replicate; in ms once validated. */
  expiryResolution: positiveDuration().prefault('1s'),
  /** Shortest life of a tombstone, for sessions destroyed before this node saw them; in ms once validated. */
  minTombstoneTtl: atLeast(1000).prefault('1m'),
  /** Frames stamped further than this from the receiver's clock are refused as replays; in ms once validated. */
  replayWindow: atLeast(1000).prefault('5m'),
});

/** Options of {@link ReplicatedStore}, as given (durations as strings or ms). */
export type ReplicatedStoreOptions = z.input<typeof replicatedStoreOptionsSchema>;
/** Options with every default applied, every duration in ms and `secret` as a list. */
export type ResolvedOptions = z.output<typeof replicatedStoreOptionsSchema>;

/** Defaults of {@link ReplicatedStoreOptions}, from its schema (the `cluster` section's among them). */
export const DEFAULT_REPLICATED_STORE_OPTIONS = schemaDefaults(replicatedStoreOptionsSchema);

/** Validates options with {@link replicatedStoreOptionsSchema}: a `ConfigError` naming the field, the value and what is allowed. */
export function resolveOptions(o: ReplicatedStoreOptions): ResolvedOptions {
  return parseOptions(replicatedStoreOptionsSchema, o ?? {});
}
