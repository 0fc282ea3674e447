import { parseOptions, type PluginContext } from '@scaleout/core';
import { connectClient, createRedisClient, describeTarget } from './redis-client.js';
import { RedisStore } from './redis-store.js';
import { redisStoreConfigSchema, storeOptionsOf, type RedisStoreConfigInput } from './redis-store-options.js';

/**
 * Opens the store a `store: { type: "redis" }` section describes (what `createStrategy()` calls
 * for that type): validates it with the type's schema (a `ConfigError` naming `store.<field>`),
 * builds the client (standalone `url`, `sentinels` + `name`, or Cluster `nodes`) and resolves
 * once it is connected. An unreachable address rejects within `connectTimeout` with a
 * `StoreUnavailableError` naming it; refused credentials reject at once.
 */
export async function createStore(config: RedisStoreConfigInput, context?: PluginContext): Promise<RedisStore> {
  const parsed = parseOptions(redisStoreConfigSchema, config, ['store']);
  const client = createRedisClient(parsed);
  // A save the session layer gave up on (its 503) must not land later either.
  const storeTimeout = context?.config.session.storeTimeout;
  const writeDeadline = storeTimeout === undefined ? parsed.commandTimeout : Math.min(parsed.commandTimeout, storeTimeout);
  const store = new RedisStore({ client, ownsClient: true, ...storeOptionsOf(parsed), writeDeadline });
  try {
    await connectClient(client, describeTarget(parsed), parsed.connectTimeout);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
