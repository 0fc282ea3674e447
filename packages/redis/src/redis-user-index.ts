import { MAX_SESSION_ID_LENGTH, userOf } from '@scaleout/core';

/**
 * How much longer than its session a user shadow lives: the time the expired notification has to
 * arrive and be read (Redis notices an expired key lazily or by sampling, see docs). Spring
 * Session keeps its expired session data five minutes for the same reason.
 */
export const SHADOW_MARGIN_MS = 5 * 60_000;

/**
 * How much longer than its sessions need a user's set is made to live when a save keeps it, so
 * that the saves of the next five minutes (same user, same or shorter lifetime) find the
 * session's mark still good and cost no command on the set: the set is kept once per five
 * minutes per session, not once per request. It is also how long a set outlives sessions that
 * all ended without a word.
 */
export const USER_SET_RENEW_MS = 5 * 60_000;

/** How long a shadow stays once its session's expiry was handled: every node subscribed reads it. */
export const SHADOW_LINGER_MS = 5_000;

/**
 * How long the claim of an expiry (`sessions.events: "once"`) is kept: long past the moment every
 * subscriber hears the notification, so a late node still finds it taken. An id that expired
 * twice within it (an app reusing ids) would be announced once.
 */
export const EXPIRY_CLAIM_MS = 60_000;

/**
 * Names of the user-index keys, all under `userPrefix` (which neither starts with the session
 * prefix nor is a beginning of it, so none of them is ever listed as a session):
 * - `userPrefix + "u:" + userId`, a set of the user's session ids;
 * - `userPrefix + "s:{" + sessionKey + "}"`, the user's id (JSON, as in the hash) kept beside a
 *   session, in its Cluster slot (the braces make Redis hash only the session key), living
 *   {@link SHADOW_MARGIN_MS} longer: once Redis expires the hash, it still says whose it was;
 * - `userPrefix + "x:" + sessionKey`, the node that claimed the session's expiry (`once` events),
 *   living {@link EXPIRY_CLAIM_MS}.
 */
export class UserIndexKeys {
  readonly userPrefix: string;
  readonly field: string;
  readonly userKey: string;
  readonly #shadows: boolean;

  constructor(userPrefix: string, userKey: string, field: string) {
    this.userPrefix = userPrefix;
    this.userKey = userKey;
    this.field = field;
    this.#shadows = !/[{}]/.test(userPrefix);
  }

  set(userId: string): string {
    return `${this.userPrefix}u:${userId}`;
  }

  /** The key by which nodes claim the expiry of a session key. */
  claim(sessionKey: string): string {
    return `${this.userPrefix}x:${sessionKey}`;
  }

  /** The shadow of a session key, or the session key itself when braces in it leave no way to share its slot. */
  shadow(sessionKey: string): string {
    return this.#shadows && !/[{}]/.test(sessionKey) ? `${this.userPrefix}s:{${sessionKey}}` : sessionKey;
  }

  /** The user a stored user field (JSON) names, as `userOf` reads it. */
  userOfField(json: string | null | undefined | false): string | undefined {
    if (typeof json !== 'string') return undefined;
    try {
      return userOf({ [this.userKey]: JSON.parse(json) as unknown }, this.userKey);
    } catch {
      return undefined;
    }
  }
}

/** Whether a set member can be a session id at all. */
export function isSessionIdLike(member: string): boolean {
  return member.length > 0 && member.length <= MAX_SESSION_ID_LENGTH;
}
