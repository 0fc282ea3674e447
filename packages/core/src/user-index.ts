import { InvalidArgumentError } from './errors.js';
import type { SessionData } from './types.js';

/** Longest user id the index accepts: a longer value under `userKey` means "no user". */
export const MAX_USER_ID_LENGTH = 256;

/** The user a session belongs to: the value under `userKey` when it is a string of 1 to 256 characters, else none. */
export function userOf(data: SessionData | undefined, userKey: string): string | undefined {
  const v = data?.[userKey];
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_USER_ID_LENGTH ? v : undefined;
}

/** Throws a clear error unless `userId` can name a user (a string of 1 to 256 characters). */
export function checkUserId(userId: unknown, field = 'userId'): asserts userId is string {
  // A name of JavaScript objects' own members (`__proto__`, `constructor`) is refused too: such
  // an id is an attack on code that keeps users in plain objects, never a real user.
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH || userId in Object.prototype) {
    const got = typeof userId === 'string' ? (userId in Object.prototype ? JSON.stringify(userId) : `a string of ${userId.length} characters`) : userId === null ? 'null' : typeof userId;
    throw new InvalidArgumentError(field, `${field} must be a string of 1 to ${MAX_USER_ID_LENGTH} characters that is not a member name of JavaScript objects, got ${got}`);
  }
}

/**
 * Which sessions each user has, in this process: the index of the stores that hold every
 * session in memory (MemoryStore, the cluster strategy's ReplicatedStore). Its cost grows with
 * one user's sessions, never with the whole store.
 */
export class LocalUserIndex {
  /** The session key that holds the user's id. */
  readonly key: string;
  readonly #byUser = new Map<string, Set<string>>();
  readonly #userOf = new Map<string, string>();

  constructor(key: string) {
    this.key = key;
  }

  /** Records the session's user from its data (or that it has none). */
  update(id: string, data: SessionData | undefined): void {
    this.assign(id, userOf(data, this.key));
  }

  /** Records that session `id` belongs to `userId` (or to nobody). */
  assign(id: string, userId: string | undefined): void {
    const before = this.#userOf.get(id);
    if (before === userId) return;
    if (before !== undefined) this.#drop(before, id);
    if (userId === undefined) {
      this.#userOf.delete(id);
      return;
    }
    this.#userOf.set(id, userId);
    let ids = this.#byUser.get(userId);
    if (!ids) this.#byUser.set(userId, (ids = new Set()));
    ids.add(id);
  }

  /** Forgets a session; returns the user it belonged to. */
  remove(id: string): string | undefined {
    const userId = this.#userOf.get(id);
    if (userId !== undefined) {
      this.#userOf.delete(id);
      this.#drop(userId, id);
    }
    return userId;
  }

  /** The ids of the user's sessions. */
  ids(userId: string): string[] {
    return [...(this.#byUser.get(userId) ?? [])];
  }

  /** The user of session `id`. */
  userOf(id: string): string | undefined {
    return this.#userOf.get(id);
  }

  /** How many users have at least one session. */
  get users(): number {
    return this.#byUser.size;
  }

  /** Forgets every session. */
  clear(): void {
    this.#byUser.clear();
    this.#userOf.clear();
  }

  #drop(userId: string, id: string): void {
    const ids = this.#byUser.get(userId);
    if (!ids) return;
    ids.delete(id);
    if (ids.size === 0) this.#byUser.delete(userId);
  }
}
