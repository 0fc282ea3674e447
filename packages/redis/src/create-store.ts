import { parseStoreConfig, type PluginContext, type RedisStoreConfig, type StoreConfig } from '@scaleout/core';
import { connectClient, createRedisClient, describeTarget } from './redis-client.js';
import { RedisStore } from './redis-store.js';

/**
 * The `StorePlugin` entry point that `createStrategy()` calls for `store.type: "redis"`: builds
 * the client the config describes (standalone `url`, `sentinels` + `name`, or Cluster `nodes`)
 * and resolves once it is connected. An unreachable address rejects within `connectTimeout`
 * with a `StoreUnavailableError` naming it; refused credentials reject at once.
 */
export async function createStore(config: StoreConfig | RedisStoreConfig, _context?: PluginContext): Promise<RedisStore> {
  const parsed = parseStoreConfig(config, 'redis');
  const client = createRedisClient(parsed);
  const store = new RedisStore({
    client,
    ownsClient: true,
    prefix: parsed.prefix,
    waitReplicas: parsed.waitReplicas,
    waitTimeout: parsed.waitTimeout,
    commandTimeout: parsed.commandTimeout,
    migrateFrom: parsed.migrateFrom,
  });
  try {
    await connectClient(client, describeTarget(parsed), parsed.connectTimeout);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
