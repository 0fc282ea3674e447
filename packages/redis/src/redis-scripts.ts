import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-client.js';

// Lua scripts the store runs; each touches one key, so they are valid on a Cluster too.

/** Writes ARGV[2] with PX ARGV[3] only if the key still holds the value whose SHA-1 is ARGV[1]: 1 done, 0 changed meanwhile, -1 gone. */
const COMPARE_AND_SET = `
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
if redis.sha1hex(current) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

/** Deletes a lock only if it still holds this holder's token (an expired lock may be someone else's now). */
const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** The client with the store's scripts defined on it (EVALSHA, loaded on first use). */
export interface ScriptedClient {
  scaleoutCompareAndSet(key: string, expectedSha1: string, value: string | Buffer, px: number): Promise<number>;
  scaleoutReleaseLock(key: string, token: string): Promise<number>;
}

/** Defines the scripts on `client` once (ioredis caches and reloads them as needed). */
export function withScripts(client: RedisClient): RedisClient & ScriptedClient {
  const c = client as RedisClient & Partial<ScriptedClient>;
  if (typeof c.scaleoutCompareAndSet !== 'function') client.defineCommand('scaleoutCompareAndSet', { numberOfKeys: 1, lua: COMPARE_AND_SET });
  if (typeof c.scaleoutReleaseLock !== 'function') client.defineCommand('scaleoutReleaseLock', { numberOfKeys: 1, lua: RELEASE_LOCK });
  return client as RedisClient & ScriptedClient;
}

/** SHA-1 of a stored value, as Redis's `redis.sha1hex` computes it over the same bytes. */
export function sha1(raw: string | Buffer): string {
  return createHash('sha1').update(raw).digest('hex');
}
