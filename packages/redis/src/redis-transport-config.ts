import { positiveDuration, redisUrl, schemaDefaults } from '@scaleout/core';
import { z } from 'zod';

// The options of RedisTransport are written once, here: the constructor validates with
// redisTransportOptionsSchema, the `cluster.transport: { type: "redis" }` config section with
// redisTransportConfigSchema (the fields a config can give), and docs/configuration.md's table is
// generated from the latter (scripts/config-reference.ts).

const url = () => redisUrl().meta({ accepts: '`redis://` or `rediss://` URL', description: 'the Redis server that carries the messages' });

/** Fields that the config section and the constructor share. */
const transportFields = {
  /** The pub/sub channel the nodes publish on and subscribe to; clusters sharing a Redis use different channels. */
  channel: z.string().min(1).max(128).default('scaleout').meta({ accepts: 'string ≤ 128', description: 'the pub/sub channel' }),
  /** ACL user name, if not in the URL. */
  username: z.string().optional().meta({ accepts: 'string', description: 'ACL user name' }),
  /** Password of the ACL user, or `requirepass`, if not in the URL. */
  password: z.string().optional().meta({ accepts: 'string', description: 'password of the ACL user, or `requirepass`' }),
};

/** The options of {@link RedisTransport}, validated by its constructor. */
export const redisTransportOptionsSchema = z.strictObject({
  /** The Redis server that carries the messages, as a `redis://` or `rediss://` URL; a Redis on this host's default port by default. */
  url: url().default('redis://127.0.0.1:6379'),
  ...transportFields,
  /**
   * This node's id: messages addressed to it arrive on its own channel (`<channel>:node:<id>`),
   * so a snapshot streamed to one node does not flow through every other subscriber. A
   * replicated store sets it when left out.
   */
  nodeId: z.string().min(1).optional().meta({ description: 'this node\'s id; messages addressed to it arrive on its own channel' }),
  /** Longest a publish may take before it fails, in ms once validated. */
  publishTimeout: positiveDuration().prefault('2s').meta({ accepts: 'duration', description: 'longest a publish may take before it fails' }),
});

/** Options of {@link RedisTransport}, as given (durations as strings or ms). */
export type RedisTransportOptions = z.input<typeof redisTransportOptionsSchema>;
/** Options of {@link RedisTransport} with defaults applied and durations in ms. */
export type ResolvedRedisTransportOptions = z.output<typeof redisTransportOptionsSchema>;

/** Defaults of {@link RedisTransportOptions}, from its schema. */
export const DEFAULT_REDIS_TRANSPORT_OPTIONS = schemaDefaults(redisTransportOptionsSchema);

/** `cluster.transport: { type: "redis" }`: Redis pub/sub between the nodes of the `cluster` strategy. */
export const redisTransportConfigSchema = z.strictObject({
  /** Always `"redis"`. */
  type: z.literal('redis'),
  /** The Redis server that carries the messages, as a `redis://` or `rediss://` URL. */
  url: url(),
  ...transportFields,
});

/** A validated `cluster.transport: { type: "redis" }`. */
export type RedisTransportConfig = z.output<typeof redisTransportConfigSchema>;
/** A `cluster.transport: { type: "redis" }` section as written. */
export type RedisTransportConfigInput = z.input<typeof redisTransportConfigSchema>;
