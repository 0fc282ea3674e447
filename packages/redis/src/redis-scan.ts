import type { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './redis-client.js';

/**
 * Whether `client` is an ioredis Cluster. Read from ioredis's own `isCluster` flag rather than
 * `instanceof`: an app whose ioredis version differs from ours hands in a client built from
 * another copy of the class, which `instanceof` would not recognise.
 */
export function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster === true;
}

/** The connections that own keys: every master of a Cluster, or the one connection otherwise. */
export function mastersOf(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}

/** A SCAN MATCH pattern for every key starting with `prefix`, glob characters escaped. */
export function prefixPattern(prefix: string): string {
  return prefix.replace(/[*?[\]\\]/g, '\\$&') + '*';
}

/**
 * Streams the keys matching `pattern` on one node, a SCAN page at a time, so memory stays
 * bounded by `count` whatever the keyspace holds. `run` wraps each call (deadline, error mapping).
 * As SCAN guarantees, a key present for the whole scan is returned at least once; a key may come
 * twice if the node resizes its table meanwhile.
 */
export async function* scanNode(
  node: Redis,
  pattern: string,
  count: number,
  run: <T>(p: Promise<T>) => Promise<T>,
): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, keys] = await run(node.scan(cursor, 'MATCH', pattern, 'COUNT', count));
    cursor = next;
    if (keys.length) yield keys;
  } while (cursor !== '0');
}
