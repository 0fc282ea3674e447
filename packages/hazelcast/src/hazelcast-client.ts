import { debuglog } from 'node:util';
import { Client, LifecycleState, ReconnectMode, type ClientConfig } from 'hazelcast-client';
import { StoreUnavailableError, withTimeout } from '@scaleout/core';
import type { HazelcastStoreConfig } from './hazelcast-config.js';

const debug = debuglog('scaleout:hazelcast-client');

/** The client type hazelcast-client's factory resolves to. */
export type HazelcastClient = Awaited<ReturnType<typeof Client.newHazelcastClient>>;

/** Where a config points, for error messages: addresses and cluster name only, never credentials. */
export function describeTarget(config: HazelcastStoreConfig): string {
  return `Hazelcast cluster "${config.clusterName}" at ${config.members.join(', ')}`;
}

/**
 * The client settings for a session store: `ASYNC` reconnection, so that while the cluster is
 * unreachable calls fail at once with `ClientOfflineError` instead of waiting; reconnection that
 * never gives up (a `clusterConnectTimeoutMillis` would also end the client for good after that
 * long offline); invocations bounded by `commandTimeout` rather than the client's two-minute
 * default. The start-up is asynchronous, so that {@link connectHazelcast} can bound it and shut
 * a client that never connected down.
 */
export function clientConfig(config: HazelcastStoreConfig): ClientConfig {
  return {
    clusterName: config.clusterName,
    network: { clusterMembers: config.members, connectionTimeout: config.connectTimeout, smartRouting: true },
    connectionStrategy: {
      asyncStart: true,
      reconnectMode: ReconnectMode.ASYNC,
      connectionRetry: {
        clusterConnectTimeoutMillis: -1,
        initialBackoffMillis: 100,
        maxBackoffMillis: 1000,
        multiplier: 2,
        jitter: 0.2,
      },
    },
    // The member that owns an entry waits for its backup before it answers, instead of the backup
    // member acknowledging to the client directly: the direct ack is lost while the client has no
    // connection to that member yet (just after start, or after a member change), and the write
    // then stalls for the backup timeout.
    backupAckToClientEnabled: false,
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
 * An asynchronously started client is CONNECTED before it knows the members and the partition
 * table; until then its calls go through whichever member it reached, one hop more. The
 * synchronous start waited for both, and so does this.
 */
async function untilRouting(client: HazelcastClient): Promise<void> {
  while (client.getCluster().getMembers().length === 0 || client.getPartitionService().getPartitionCount() === 0) {
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Starts a client and resolves once it is connected to the cluster, or shuts it down and rejects
 * with a `StoreUnavailableError` naming the members after `connectTimeout`.
 */
export async function connectHazelcast(config: HazelcastStoreConfig): Promise<HazelcastClient> {
  const target = describeTarget(config);
  let connected!: () => void;
  const isConnected = new Promise<void>((resolve) => (connected = resolve));
  const settings = clientConfig(config);
  settings.lifecycleListeners = [(state) => state === LifecycleState.CONNECTED && connected()];
  const client = await Client.newHazelcastClient(settings);
  try {
    await withTimeout(isConnected.then(() => untilRouting(client)), config.connectTimeout, 'connect');
    debug('connected to %s', target);
    return client;
  } catch (err) {
    await client.shutdown().catch(() => undefined);
    throw new StoreUnavailableError(`cannot reach ${target} within ${config.connectTimeout} ms (refused, wrong cluster name or credentials)`, { cause: err });
  }
}
