import { redisUrl } from '@scaleout/core';
import { z } from 'zod';

/** `cluster.transport: { type: "redis" }`: Redis pub/sub between the nodes of the `cluster` strategy. */
export const redisTransportConfigSchema = z.strictObject({
  /** Always `"redis"`. */
  type: z.literal('redis'),
  /** The Redis server that carries the messages, as a `redis://` or `rediss://` URL. */
  url: redisUrl().meta({ accepts: '`redis://` or `rediss://` URL', description: 'the Redis server that carries the messages' }),
  /** The pub/sub channel the nodes publish on and subscribe to. */
  channel: z.string().min(1).max(128).default('scaleout').meta({ accepts: 'string ≤ 128', description: 'the pub/sub channel' }),
  /** ACL user name. */
  username: z.string().optional().meta({ accepts: 'string', description: 'ACL user name' }),
  /** Password of the ACL user, or `requirepass`. */
  password: z.string().optional().meta({ accepts: 'string', description: 'password of the ACL user, or `requirepass`' }),
});

/** A validated `cluster.transport: { type: "redis" }`. */
export type RedisTransportConfig = z.output<typeof redisTransportConfigSchema>;
/** A `cluster.transport: { type: "redis" }` section as written. */
export type RedisTransportConfigInput = z.input<typeof redisTransportConfigSchema>;
