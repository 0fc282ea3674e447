import { parseOptions, type PluginContext } from '@scaleout/core';
import { hazelcastStoreConfigSchema, type HazelcastStoreConfigInput } from './hazelcast-config.js';
import { connectHazelcast } from './hazelcast-client.js';
import { HazelcastStore } from './hazelcast-store.js';

/**
 * Opens the store a `store: { type: "hazelcast" }` section describes (what `createStrategy()`
 * calls for that type): validates it with the type's schema (a `ConfigError` naming
 * `store.<field>`), connects a client to `members` and resolves with a store over the IMap
 * `map`. An unreachable cluster rejects within `connectTimeout` with a `StoreUnavailableError`
 * naming the addresses.
 */
export async function createStore(config: HazelcastStoreConfigInput, _context?: PluginContext): Promise<HazelcastStore> {
  const parsed = parseOptions(hazelcastStoreConfigSchema, config, ['store']);
  const client = await connectHazelcast(parsed);
  try {
    return await HazelcastStore.fromClient(client, { mapName: parsed.map, ownsClient: true, commandTimeout: parsed.commandTimeout, maxValueBytes: parsed.maxValueBytes, pageSize: parsed.pageSize });
  } catch (err) {
    await client.shutdown().catch(() => undefined);
    throw err;
  }
}
