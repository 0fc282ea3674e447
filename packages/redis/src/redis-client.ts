import { debuglog } from 'node:util';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { StoreUnavailableError } from '@scaleout/core';
import type { RedisStoreConfig } from './redis-store-options.js';

const debug = debuglog('scaleout:redis-client');

/** Either kind of ioredis client: one connection (standalone, Sentinel) or a Cluster. */
export type RedisClient = Redis | Cluster;

/** Delay before the next reconnection attempt: quick at first, never more than 1 s, never giving up. */
const reconnectDelay = (attempt: number): number => Math.min(100 * attempt, 1000);

function hostAndPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}

/** Where a config points, for error messages: addresses only, never credentials. */
export function describeTarget(config: RedisStoreConfig): string {
  if (config.nodes) return `Redis Cluster nodes ${config.nodes.join(', ')}`;
  if (config.sentinels) return `Redis master "${config.name}" via Sentinels ${config.sentinels.join(', ')}`;
  const url = new URL(config.url!);
  return `Redis at ${url.hostname}:${url.port || '6379'}`;
}

function tlsOf(tls: RedisStoreConfig['tls']): RedisOptions['tls'] {
  if (tls === undefined || tls === false) return undefined;
  return tls === true ? {} : (tls as RedisOptions['tls']);
}

/** Drops undefined fields so they never override what a URL carries. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Builds the ioredis client a config asks for, not yet connected. Every topology gets the same
 * fail-fast settings: no offline queue (a command while disconnected fails at once instead of
 * waiting for a reconnection that may never come), one retry per request, and `commandTimeout` on
 * every command, which the store then relies on instead of a timer of its own.
 */
export function createRedisClient(config: RedisStoreConfig): RedisClient {
  const connection: RedisOptions = defined({
    username: config.username,
    password: config.password,
    db: config.db,
    tls: tlsOf(config.tls),
    connectTimeout: config.connectTimeout,
    commandTimeout: config.commandTimeout,
    maxRetriesPerRequest: 1,
    connectionName: 'scaleout-session-store',
  });
  if (config.nodes) {
    const options: ClusterOptions = {
      redisOptions: connection,
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      scaleReads: 'master',
      clusterRetryStrategy: reconnectDelay,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: Math.max(1000, config.commandTimeout),
      // A promoted replica is learnt from MOVED replies too; the periodic refresh only bounds
      // how long a dead master's slots stay mapped when no command hits them.
      slotsRefreshInterval: 2000,
    };
    debug('cluster client for %s', config.nodes.join(', '));
    return new Cluster(config.nodes.map(hostAndPort), options);
  }
  const common: RedisOptions = {
    ...connection,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    retryStrategy: reconnectDelay,
    // A master demoted to replica (it came back after a failover) answers READONLY: reconnect
    // so that Sentinel resolution finds the new master.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
  if (config.sentinels) {
    debug('sentinel client for %s via %s', config.name, config.sentinels.join(', '));
    return new Redis({
      ...common,
      sentinels: config.sentinels.map(hostAndPort),
      name: config.name!,
      ...defined({ sentinelPassword: config.sentinelPassword }),
      enableTLSForSentinelMode: config.tls !== undefined && config.tls !== false,
      sentinelRetryStrategy: reconnectDelay,
      // No failoverDetector: its +switch-master handler closes the connector while a reconnection
      // may be resolving the master, and ioredis then ends the client for good. A promotion is
      // seen anyway: the old master's connection drops, or it answers READONLY once demoted.
    });
  }
  return new Redis(config.url!, common);
}

const AUTH_FAILURE = /NOAUTH|WRONGPASS|invalid password|invalid username|AUTH failed|NOPERM/i;
// A certificate that does not verify will not verify on the next attempt either.
const TLS_FAILURE = /certificate|self[- ]signed|CERT_|wrong version number|ERR_SSL/i;

/**
 * Connects `client` and resolves once it is ready, or rejects with a `StoreUnavailableError`
 * naming `target` after `timeoutMs` (at once on refused credentials or a certificate that does
 * not verify). On failure the client is disconnected, so nothing keeps retrying in the background.
 */
export function connectClient(client: RedisClient, target: string, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let lastError: Error | undefined;
    const finish = (err?: Error) => {
      clearTimeout(timer);
      client.off('error', onError);
      client.off('ready', onReady);
      if (!err) return resolve();
      client.disconnect();
      reject(err);
    };
    const onReady = () => finish();
    const onError = (err: Error) => {
      lastError = err;
      if (AUTH_FAILURE.test(err.message)) finish(new StoreUnavailableError(`${target} refused the credentials: ${err.message}`, { cause: err }));
      else if (TLS_FAILURE.test(err.message) || TLS_FAILURE.test(String((err as NodeJS.ErrnoException).code))) {
        finish(new StoreUnavailableError(`${target} failed TLS: ${err.message}`, { cause: err }));
      }
    };
    const timer = setTimeout(() => {
      const why = lastError ? `: ${lastError.message}` : '';
      finish(new StoreUnavailableError(`cannot reach ${target} within ${timeoutMs} ms${why}`, lastError ? { cause: lastError } : undefined));
    }, timeoutMs);
    client.on('error', onError);
    client.once('ready', onReady);
    if (client.status === 'wait') client.connect().catch(onError);
  });
}
