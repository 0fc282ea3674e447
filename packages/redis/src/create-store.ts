import { ConfigError, redisStoreSchema, type PluginContext, type RedisStoreConfig, type StoreConfig } from '@scaleout/core';
import { connectClient, createRedisClient, describeTarget } from './redis-client.js';
import { RedisStore } from './redis-store.js';

/**
 * The `StorePlugin` entry point that `createStrategy()` calls for `store.type: "redis"`: builds
 * the client the config describes (standalone `url`, `sentinels` + `name`, or Cluster `nodes`)
 * and resolves once it is connected. An unreachable address rejects within `connectTimeout`
 * with a `StoreUnavailableError` naming it; refused credentials reject at once.
 */
export async function createStore(config: StoreConfig | RedisStoreConfig, _context?: PluginContext): Promise<RedisStore> {
  if (config?.type !== 'redis') {
    throw new ConfigError('store.type', `@scaleout/redis serves store.type "redis", got ${JSON.stringify(config?.type)}`);
  }
  // Parsing again fills defaults for a config built by hand rather than by loadConfig().
  const result = redisStoreSchema.safeParse(config);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = ['store', ...issue.path.map(String)].join('.');
    throw new ConfigError(field, `config ${field}: ${issue.message}`);
  }
  const parsed = result.data;
  const client = createRedisClient(parsed);
  const store = new RedisStore({
    client,
    ownsClient: true,
    prefix: parsed.prefix,
    waitReplicas: parsed.waitReplicas,
    waitTimeout: parsed.waitTimeout,
    commandTimeout: parsed.commandTimeout,
  });
  try {
    await connectClient(client, describeTarget(parsed), parsed.connectTimeout);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
