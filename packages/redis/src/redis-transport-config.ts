import { redisUrl } from '@scaleout/core';
import { z } from 'zod';

/** `cluster.transport: { type: "redis" }`: Redis pub/sub between the nodes of the `cluster` strategy. */
export const redisTransportConfigSchema = z.strictObject({
  type: z.literal('redis'),
  url: redisUrl().meta({ accepts: '`redis://` or `rediss://` URL', description: 'the Redis server that carries the messages' }),
  channel: z.string().min(1).max(128).default('scaleout').meta({ accepts: 'string ≤ 128', description: 'the pub/sub channel' }),
  username: z.string().optional().meta({ accepts: 'string', description: 'ACL user name' }),
  password: z.string().optional().meta({ accepts: 'string', description: 'password of the ACL user, or `requirepass`' }),
});

/** A validated `cluster.transport: { type: "redis" }`. */
export type RedisTransportConfig = z.output<typeof redisTransportConfigSchema>;
/** A `cluster.transport: { type: "redis" }` section as written. */
export type RedisTransportConfigInput = z.input<typeof redisTransportConfigSchema>;
