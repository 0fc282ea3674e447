import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-client.js';
import { META } from './serializer.js';

const USER_SET_MARK = META.userSet;

// Lua scripts the store runs; each touches one key, or a session and its user shadow, which share a
// Cluster slot (redis-user-index.ts), so they are valid on a Cluster too. HSET and
// HDEL take their fields in slices of 200 so that no call outgrows Lua's stack (unpack).

// The shadow copy of the user field (KEYS[2]), living a margin longer than the session, is what
// tells whose session it was once Redis expires the hash; without a user it is deleted. Then the
// reply: 1 when the user's set needs nothing (no user, or the same user as before and the hash's
// USER_SET_MARK says the set already holds this id and lives past ARGV[5] ms since the epoch),
// else {1, user field before, user field after} for the caller to keep the sets. The mark is
// "<until> <user field>", so a mark left by another user (a change by a node that does not write
// marks) never passes for this one's.
const USER_SET = `local after = redis.call('HGET', KEYS[1], ARGV[3])
if KEYS[2] ~= KEYS[1] then
  if after then redis.call('SET', KEYS[2], after, 'PX', ARGV[4]) else redis.call('DEL', KEYS[2]) end
end
if before == after and (not after or marked(after, ARGV[5])) then return 1 end
return {1, before, after}`;

/** What a write script replies when it reached Redis after its deadline: nothing was written. */
export const LATE = -9;

/**
 * The first lines of a script that overwrites session data: ARGV[1] is the write's deadline, ms
 * since the epoch on Redis's clock (redis-clock.ts), or '' for none; it is taken out of ARGV, so
 * the script's own arguments start at ARGV[1] as before. A write that arrives after its deadline
 * (its caller gave up on it) is refused with {@link LATE}. TIME before a write needs scripts
 * replicated by their effects: the default since Redis 5, asked for here on older servers.
 */
const DEADLINE = `local deadline = table.remove(ARGV, 1)
if deadline ~= '' then
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(deadline) then return ${LATE} end
end`;

/** Whether the session's mark says `user`'s set holds it and lives until `needed` at least. */
const MARKED = `local function marked(user, needed)
  local mark = redis.call('HGET', KEYS[1], '${USER_SET_MARK}')
  local sp = mark and string.find(mark, ' ', 1, true)
  return sp and string.sub(mark, sp + 1) == user and (tonumber(string.sub(mark, 1, sp - 1)) or 0) >= tonumber(needed)
end`;

/**
 * Applies a patch to a session hash, with no read first, unless it is late ({@link DEADLINE}: the
 * deadline comes before the arguments below). KEYS[1] the session, KEYS[2] its user
 * shadow (see redis-user-index.ts; KEYS[1] again when there is none). ARGV[1] the layout
 * version, ARGV[2] the expiry in ms, ARGV[3] the hash field of the user key ('' when users are
 * not indexed), ARGV[4] the shadow's expiry in ms, ARGV[5] until when (ms since the epoch) the
 * user's set must live for this save to leave it alone, ARGV[6] how many of the arguments after
 * it are field/value pairs to set; the rest are fields to delete. Replies 1 done (or, indexing and
 * the user's set to keep, {1, user field before, user field after}), 0 no such session
 * (destroyed or expired: never brought back), -1 a key of another type, -2 a hash of another
 * layout (neither is written), or the string itself when the key holds a session in the string
 * layout (the caller converts it).
 */
const PATCH = `${DEADLINE}
${MARKED}
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then return 0 end
if kind == 'string' then return redis.call('GET', KEYS[1]) end
if kind ~= 'hash' then return -1 end
if redis.call('HGET', KEYS[1], '#v') ~= ARGV[1] then return -2 end
local before = false
if ARGV[3] ~= '' then before = redis.call('HGET', KEYS[1], ARGV[3]) end
local last = 6 + tonumber(ARGV[6])
for i = 7, last, 200 do redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 199, last))) end
for i = last + 1, #ARGV, 200 do redis.call('HDEL', KEYS[1], unpack(ARGV, i, math.min(i + 199, #ARGV))) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if ARGV[3] == '' then return 1 end
${USER_SET}`;

/**
 * Unless it is late (as the patch), replaces whatever the key holds with a new hash (field/value pairs from ARGV[6]) expiring in
 * ARGV[2] ms; KEYS, ARGV[3], ARGV[4] and ARGV[5] as for the patch. With ARGV[1] not empty, only
 * if the key still holds the string whose SHA-1 that is (the conversion of a string-layout
 * session): 1 done (indexing, as the patch), 0 changed meanwhile. A hash's user set mark is kept.
 */
const REPLACE = `${DEADLINE}
${MARKED}
local before = false
local mark = false
if ARGV[1] ~= '' then
  if redis.call('TYPE', KEYS[1])['ok'] ~= 'string' then return 0 end
  if redis.sha1hex(redis.call('GET', KEYS[1])) ~= ARGV[1] then return 0 end
elseif ARGV[3] ~= '' and redis.call('TYPE', KEYS[1])['ok'] == 'hash' then
  before = redis.call('HGET', KEYS[1], ARGV[3])
  mark = redis.call('HGET', KEYS[1], '${USER_SET_MARK}')
end
redis.call('DEL', KEYS[1])
for i = 6, #ARGV, 200 do redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 199, #ARGV))) end
if mark then redis.call('HSET', KEYS[1], '${USER_SET_MARK}', mark) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if ARGV[3] == '' then return 1 end
${USER_SET}`;

/**
 * Deletes a session and its user shadow; KEYS as for the patch, ARGV[1] the user field. Replies
 * the user field it held (nil when none, or when the key was not a hash), so the caller can take
 * the id out of that user's set.
 */
const DESTROY = `
local before = false
if redis.call('TYPE', KEYS[1])['ok'] == 'hash' then before = redis.call('HGET', KEYS[1], ARGV[1]) end
redis.call('UNLINK', KEYS[1])
if KEYS[2] ~= KEYS[1] then redis.call('DEL', KEYS[2]) end
return before`;

/**
 * Slides a session's expiry (ARGV[1] ms) and its shadow's (ARGV[2] ms); replies the user field
 * (ARGV[3]) it holds when that user's set must be kept alive as long (the hash's mark does not
 * reach ARGV[4], as for the patch), else nil.
 */
const TOUCH = `${MARKED}
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then return false end
if KEYS[2] ~= KEYS[1] then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return false end
local user = redis.call('HGET', KEYS[1], ARGV[3])
if not user or marked(user, ARGV[4]) then return false end
return user`;

/**
 * Adds session ARGV[1] to a user's set KEYS[1] and makes the set live at least ARGV[2] ms, never
 * shortening it: the set outlives the longest-lived session it lists, and disappears on its own
 * once every one of them is gone and nothing touched it.
 */
const USER_ADD = `
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

/**
 * Records in session KEYS[1] that its user's set holds it and lives until ARGV[3] (ms since the
 * epoch), as the mark "<ARGV[3]> <ARGV[2]>", only while the session is a hash whose user field
 * ARGV[1] still holds ARGV[2]: run after the set was kept, so a crash before it leaves no mark
 * and the next save keeps the set again. Replies 1 marked, 0 not.
 */
const USER_SET_KEPT = `
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return 0 end
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], '${USER_SET_MARK}', ARGV[3] .. ' ' .. ARGV[2])
return 1`;

/** Deletes a lock only if it still holds this holder's token (an expired lock may be someone else's now). */
const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** What the patch script replies: a status, the string-layout value to convert, or (indexing) the status and the user field before and after. */
export type PatchReply = number | string | Buffer | IndexedReply;

/** A write's reply while users are indexed: 1, and the user field (JSON) before and after it. */
export type IndexedReply = [number, string | null, string | null];

/** The client with the store's scripts defined on it (EVALSHA, loaded on first use). */
export interface ScriptedClient {
  /** KEYS: session, shadow. */
  scaleoutPatch(key: string, shadow: string, deadline: string, ...args: (string | number)[]): Promise<PatchReply>;
  scaleoutPatchBuffer(key: string, shadow: string, deadline: string, ...args: (string | number)[]): Promise<PatchReply>;
  scaleoutReplace(key: string, shadow: string, deadline: string, expectedSha1: string, px: number, userField: string, shadowPx: number, keptUntil: number, ...pairs: string[]): Promise<number | IndexedReply>;
  scaleoutDestroy(key: string, shadow: string, userField: string): Promise<string | null>;
  scaleoutTouch(key: string, shadow: string, px: number, shadowPx: number, userField: string, keptUntil: number): Promise<string | null>;
  scaleoutUserAdd(key: string, id: string, px: number): Promise<number>;
  scaleoutUserSetKept(key: string, userField: string, user: string, until: number): Promise<number>;
  scaleoutReleaseLock(key: string, token: string): Promise<number>;
}

const SCRIPTS: Record<string, [keys: number, lua: string]> = {
  scaleoutPatch: [2, PATCH],
  scaleoutReplace: [2, REPLACE],
  scaleoutDestroy: [2, DESTROY],
  scaleoutTouch: [2, TOUCH],
  scaleoutUserAdd: [1, USER_ADD],
  scaleoutUserSetKept: [1, USER_SET_KEPT],
  scaleoutReleaseLock: [1, RELEASE_LOCK],
};

/** Defines the scripts on `client` once (ioredis caches and reloads them as needed). */
export function withScripts(client: RedisClient): RedisClient & ScriptedClient {
  const c = client as unknown as Record<string, unknown>;
  for (const [name, [numberOfKeys, lua]] of Object.entries(SCRIPTS)) {
    if (typeof c[name] !== 'function') client.defineCommand(name, { numberOfKeys, lua });
  }
  return client as RedisClient & ScriptedClient;
}

/** SHA-1 of a stored value, as Redis's `redis.sha1hex` computes it over the same bytes. */
export function sha1(raw: string | Buffer): string {
  return createHash('sha1').update(raw).digest('hex');
}
