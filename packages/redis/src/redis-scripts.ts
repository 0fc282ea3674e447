import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-client.js';

// Lua scripts the store runs; each touches one key, so they are valid on a Cluster too. HSET and
// HDEL take their fields in slices of 200 so that no call outgrows Lua's stack (unpack).

/**
 * Applies a patch to a session hash, with no read first: ARGV[1] the layout version, ARGV[2] the
 * expiry in ms, ARGV[3] how many of the arguments after it are field/value pairs to set; the rest
 * are fields to delete. Replies 1 done, 0 no such session (destroyed or expired: never brought
 * back), -1 a key of another type, -2 a hash of another layout (neither is written), or the
 * string itself when the key holds a session in the string layout (the caller converts it).
 */
const PATCH = `
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then return 0 end
if kind == 'string' then return redis.call('GET', KEYS[1]) end
if kind ~= 'hash' then return -1 end
if redis.call('HGET', KEYS[1], '#v') ~= ARGV[1] then return -2 end
local last = 3 + tonumber(ARGV[3])
for i = 4, last, 200 do redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 199, last))) end
for i = last + 1, #ARGV, 200 do redis.call('HDEL', KEYS[1], unpack(ARGV, i, math.min(i + 199, #ARGV))) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/**
 * Replaces whatever the key holds with a new hash (field/value pairs from ARGV[3]) expiring in
 * ARGV[2] ms. With ARGV[1] not empty, only if the key still holds the string whose SHA-1 that is
 * (the conversion of a string-layout session): 1 done, 0 changed meanwhile.
 */
const REPLACE = `
if ARGV[1] ~= '' then
  if redis.call('TYPE', KEYS[1])['ok'] ~= 'string' then return 0 end
  if redis.sha1hex(redis.call('GET', KEYS[1])) ~= ARGV[1] then return 0 end
end
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 200 do redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 199, #ARGV))) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** Deletes a lock only if it still holds this holder's token (an expired lock may be someone else's now). */
const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** What the patch script replies: a status, or the string-layout value to convert. */
export type PatchReply = number | string | Buffer;

/** The client with the store's scripts defined on it (EVALSHA, loaded on first use). */
export interface ScriptedClient {
  scaleoutPatch(key: string, ...args: (string | number)[]): Promise<PatchReply>;
  scaleoutPatchBuffer(key: string, ...args: (string | number)[]): Promise<PatchReply>;
  scaleoutReplace(key: string, expectedSha1: string, px: number, ...pairs: string[]): Promise<number>;
  scaleoutReleaseLock(key: string, token: string): Promise<number>;
}

const SCRIPTS = { scaleoutPatch: PATCH, scaleoutReplace: REPLACE, scaleoutReleaseLock: RELEASE_LOCK } as const;

/** Defines the scripts on `client` once (ioredis caches and reloads them as needed). */
export function withScripts(client: RedisClient): RedisClient & ScriptedClient {
  const c = client as unknown as Record<string, unknown>;
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    if (typeof c[name] !== 'function') client.defineCommand(name, { numberOfKeys: 1, lua });
  }
  return client as RedisClient & ScriptedClient;
}

/** SHA-1 of a stored value, as Redis's `redis.sha1hex` computes it over the same bytes. */
export function sha1(raw: string | Buffer): string {
  return createHash('sha1').update(raw).digest('hex');
}
