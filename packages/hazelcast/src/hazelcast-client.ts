import { debuglog } from 'node:util';
import { Client, ReconnectMode, type ClientConfig } from 'hazelcast-client';
import { StoreUnavailableError, withTimeout, type HazelcastStoreConfig } from '@scaleout/core';

const debug = debuglog('scaleout:hazelcast-client');

/** The client type hazelcast-client's factory resolves to. */
export type HazelcastClient = Awaited<ReturnType<typeof Client.newHazelcastClient>>;

/** Where a config points, for error messages: addresses and cluster name only, never credentials. */
export function describeTarget(config: HazelcastStoreConfig): string {
  return `Hazelcast cluster "${config.clusterName}" at ${config.members.join(', ')}`;
}

/**
 * The client settings for a session store: `ASYNC` reconnection, so that while the cluster is
 * unreachable calls fail at once with `ClientOfflineError` instead of waiting; invocations
 * bounded by `commandTimeout` rather than the client's two-minute default; a start-up bounded by
 * `connectTimeout`.
 */
export function clientConfig(config: HazelcastStoreConfig): ClientConfig {
  return {
    clusterName: config.clusterName,
    network: { clusterMembers: config.members, connectionTimeout: config.connectTimeout, smartRouting: true },
    connectionStrategy: {
      asyncStart: false,
      reconnectMode: ReconnectMode.ASYNC,
      connectionRetry: {
        clusterConnectTimeoutMillis: config.connectTimeout,
        initialBackoffMillis: 100,
        maxBackoffMillis: 1000,
        multiplier: 2,
        jitter: 0.2,
      },
    },
    ...(config.username !== undefined || config.password !== undefined
      ? { security: { usernamePassword: { username: config.username ?? null, password: config.password ?? null } } }
      : {}),
    properties: {
      'hazelcast.client.invocation.timeout.millis': config.commandTimeout,
      'hazelcast.client.invocation.retry.pause.millis': 100,
      'hazelcast.client.heartbeat.interval': 1000,
      'hazelcast.client.heartbeat.timeout': Math.max(3000, config.commandTimeout * 2),
      'hazelcast.logging.level': 'OFF',
      'hazelcast.client.statistics.enabled': false,
    },
  };
}

/**
 * Starts a client and resolves once it is connected, or rejects with a `StoreUnavailableError`
 * naming the members within `connectTimeout` (plus a second of grace for the client's own
 * timer, which is the one expected to fire).
 */
export async function connectHazelcast(config: HazelcastStoreConfig): Promise<HazelcastClient> {
  const target = describeTarget(config);
  const starting = Client.newHazelcastClient(clientConfig(config));
  try {
    const client = await withTimeout(starting, config.connectTimeout + 1000, 'connect');
    debug('connected to %s', target);
    return client;
  } catch (err) {
    // If our timer won, the client may still connect later: shut it down when it does.
    starting.then((c) => c.shutdown()).catch(() => undefined);
    const why = err instanceof Error ? err.message : String(err);
    throw new StoreUnavailableError(`cannot reach ${target} within ${config.connectTimeout} ms: ${why}`, { cause: err });
  }
}
