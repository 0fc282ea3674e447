/**
 * `@scaleout/redis`: a session store on Redis (standalone, Sentinel or Cluster) and a pub/sub transport.
 * @module
 */
export * from './redis-store.js';
export * from './redis-store-options.js';
export * from './redis-transport-config.js';
export * from './create-store.js';
export * from './errors.js';
export * from './serializer.js';
export { createRedisClient, connectClient, describeTarget, type RedisClient } from './redis-client.js';
export * from './redis-transport.js';
export * from './metrics.js';
import './register-types.js';
