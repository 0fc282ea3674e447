import { parseStoreConfig, type HazelcastStoreConfig, type PluginContext, type StoreConfig } from '@scaleout/core';
import { connectHazelcast } from './hazelcast-client.js';
import { HazelcastStore } from './hazelcast-store.js';

/**
 * The `StorePlugin` entry point that `createStrategy()` calls for `store.type: "hazelcast"`:
 * connects a client to `members` (cluster name and credentials from the config) and resolves
 * with a store over the IMap `map`. An unreachable cluster rejects within `connectTimeout` with
 * a `StoreUnavailableError` naming the addresses.
 */
export async function createStore(config: StoreConfig | HazelcastStoreConfig, _context?: PluginContext): Promise<HazelcastStore> {
  const parsed = parseStoreConfig(config, 'hazelcast');
  const client = await connectHazelcast(parsed);
  try {
    return await HazelcastStore.fromClient(client, { mapName: parsed.map, ownsClient: true, commandTimeout: parsed.commandTimeout });
  } catch (err) {
    await client.shutdown().catch(() => undefined);
    throw err;
  }
}
