import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { StoreSessionDirectory } from './session-directory.js';
import { parseConfig, type ScaleoutConfig, type ScaleoutConfigInput } from './config.js';
import { memoryStoreSchema } from './config-store.js';
import { ConfigError } from './errors.js';
import { checkEventsOption, forwardExpired } from './expired-events.js';
import { MemoryStore } from './memory-store.js';
import { parseOptions } from './parse-options.js';
import { CLUSTER_PACKAGE, loadPlugin, resolveStoreSection, type ClusterPlugin, type PluginContext } from './plugin-registry.js';
import { RouteCookie } from './route-cookie.js';
import type { SessionSettings, SessionStore, Strategy, StrategyKind } from './types.js';

const debug = debuglog('scaleout:strategy');

function settingsOf(config: ScaleoutConfig): SessionSettings {
  return {
    secret: config.secret,
    ttlMs: config.session.ttl,
    cookieName: config.session.cookieName,
    storeTimeoutMs: config.session.storeTimeout,
    onStoreDown: config.session.onStoreDown,
    secure: config.session.secure,
    sameSite: config.session.sameSite,
    userKey: config.session.userKey,
  };
}

/**
 * Builds the strategy the config names. The same app code then runs on any of them:
 *
 * - `sticky`: sessions in this node's memory, plus the route cookie that pins clients here;
 * - `store`: sessions in `config.store`: memory, Redis, Hazelcast, or a type a package
 *   registers (found through the registry, or by loading the package the config names);
 * - `cluster`: every node holds every session, replicated over `config.cluster.transport`.
 *
 * The result's store is ready to use when the promise resolves (a joining cluster node has
 * applied its snapshot).
 */
export async function createStrategy(input: ScaleoutConfig | ScaleoutConfigInput): Promise<Strategy> {
  const config = parseConfig(input);
  checkEventsOption(config);
  const kind: StrategyKind = config.strategy;
  const context: PluginContext = { nodeId: config.nodeId, secret: config.secret, config };
  let store: SessionStore;
  let route: RouteCookie | undefined;
  switch (kind) {
    case 'sticky': {
      if (config.store.type !== 'memory') {
        throw new ConfigError('store.type', `config store.type: got "${config.store.type}"; the sticky strategy keeps sessions in node memory, so only "memory" is allowed (use strategy "store" for an external store)`);
      }
      const { maxSessions } = parseOptions(memoryStoreSchema, config.store, ['store']);
      store = new MemoryStore({ maxSessions });
      route = new RouteCookie(config.nodeId, config.secret, { cookieName: config.sticky.cookieName });
      break;
    }
    case 'store': {
      const { type, options, section } = await resolveStoreSection(config.store);
      config.store = section;
      store = await type.createStore(options, context);
      break;
    }
    case 'cluster': {
      if (!config.cluster) throw new ConfigError('cluster', 'config cluster: missing; the cluster strategy needs cluster.transport');
      const plugin = await loadPlugin<ClusterPlugin>(CLUSTER_PACKAGE, 'strategy "cluster"');
      store = await plugin.createReplicatedStore(context);
      break;
    }
  }
  debug('strategy %s on node %s with %s', kind, config.nodeId, store.constructor.name);
  try {
    return assembleStrategy({ kind, nodeId: config.nodeId, store, route, config });
  } catch (err) {
    await store.close();
    throw err;
  }
}

/**
 * A strategy around a store that is already open: the session events, the directory by user
 * (the store is asked to index by `session.userKey`) and `close()`. For plugins and tests that
 * open their store themselves. Throws `ConfigError` for `sessions.events: "once"` on a store
 * without `claimExpired`.
 */
export function assembleStrategy(parts: { kind: StrategyKind; nodeId: string; store: SessionStore; route?: RouteCookie | undefined; config: ScaleoutConfig }): Strategy {
  const { kind, nodeId, store, route, config } = parts;
  const events = new EventEmitter();
  const userKey = config.session.userKey;
  // First: it refuses sessions.events "once" on a store that cannot claim, before indexing starts.
  const stopExpired = forwardExpired({ kind, nodeId, store, events, config });
  store.indexUsers?.(userKey);
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      stopExpired();
      await store.close();
    })());
  return Object.assign(events, {
    kind,
    nodeId,
    store,
    ...(route ? { route } : {}),
    session: settingsOf(config),
    config,
    sessions: new StoreSessionDirectory(store, { userKey, ttlMs: config.session.ttl, events }),
    close,
    [Symbol.asyncDispose]: close,
  }) as Strategy;
}
