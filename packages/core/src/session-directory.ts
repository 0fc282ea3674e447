import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { ErrorCodes, ScaleoutError } from './errors.js';
import { checkSessionId } from './session-value.js';
import type { DestroyUserOptions, SessionData, SessionDirectory, SessionEvent, SessionInfo, SessionStore } from './types.js';
import { checkUserId, userOf } from './user-index.js';

const debug = debuglog('scaleout:directory');

/**
 * The key under which the engine keeps its own record in a stored session: when the session was
 * created and the `meta` given at login. Never part of the data an app sees.
 */
export const SESSION_RECORD_KEY = '__scaleout';

/** The engine's own record in a stored session. */
export interface SessionRecord {
  /** When the session was first saved, in ms since the epoch. */
  createdAt: number;
  /** The record given to `login()`, shown by `byUser()`. */
  meta?: Record<string, unknown>;
}

/** What a directory needs besides the store: the user key and where events go. */
export interface DirectoryContext {
  /** The session key that holds the user's id. */
  userKey: string;
  /** Fallback lifetime for a session whose cookie has no expiry. */
  ttlMs: number;
  /** Where the directory emits session events. */
  events: EventEmitter;
}

function recordOf(data: SessionData): SessionRecord | undefined {
  const r = data[SESSION_RECORD_KEY];
  return r !== null && typeof r === 'object' && typeof (r as SessionRecord).createdAt === 'number' ? (r as SessionRecord) : undefined;
}

/** What a stored session tells about itself, or `undefined` when it has no user. */
export function sessionInfo(id: string, data: SessionData, ctx: { userKey: string; ttlMs: number }, now = Date.now()): SessionInfo | undefined {
  const userId = userOf(data, ctx.userKey);
  if (userId === undefined) return undefined;
  const cookie = (data.cookie ?? {}) as { expires?: unknown; originalMaxAge?: unknown };
  const at = typeof cookie.expires === 'string' ? Date.parse(cookie.expires) : typeof data._expire === 'number' ? data._expire : NaN;
  const maxAge = typeof cookie.originalMaxAge === 'number' ? cookie.originalMaxAge : typeof data._maxAge === 'number' ? data._maxAge : ctx.ttlMs;
  const record = recordOf(data);
  const expiresAt = Number.isFinite(at) ? at : now + ctx.ttlMs;
  const lastSeenAt = Number.isFinite(at) ? Math.min(now, at - maxAge) : (record?.createdAt ?? now);
  const info: SessionInfo = { id, userId, createdAt: record?.createdAt ?? lastSeenAt, lastSeenAt, expiresAt };
  if (record?.meta) info.meta = record.meta;
  return info;
}

/**
 * `strategy.sessions`: the sessions of a user, found through the store's own index
 * (`indexUsers`/`sessionsOf`), each read once more so that ids of sessions that have just gone
 * are dropped. Destroys emit `destroyed` on the strategy.
 */
export class StoreSessionDirectory implements SessionDirectory {
  readonly #store: SessionStore;
  readonly #ctx: DirectoryContext;

  constructor(store: SessionStore, ctx: DirectoryContext) {
    this.#store = store;
    this.#ctx = ctx;
  }

  #emit(e: SessionEvent): void {
    this.#ctx.events.emit('session', e);
  }

  async byUser(userId: string): Promise<SessionInfo[]> {
    checkUserId(userId);
    const store = this.#store;
    if (!store.sessionsOf) throw new ScaleoutError(ErrorCodes.INVALID_ARGUMENT, `sessions by user: the ${store.constructor.name} keeps no index of sessions by user`);
    const ids = await store.sessionsOf(userId);
    // All read at once: on a remote store, one round trip for the lot rather than one per session.
    const read = await Promise.all(ids.map((id) => store.get(id)));
    const now = Date.now();
    const out: SessionInfo[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const data = read[i];
      const info = data && sessionInfo(id, data, this.#ctx, now);
      if (info && info.userId === userId && info.expiresAt > now) out.push(info);
      else debug('index entry of a session that is gone or moved to another user: skipped');
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  async destroyUser(userId: string, options: DestroyUserOptions = {}): Promise<number> {
    const { except } = options;
    if (except !== undefined) checkSessionId(except);
    let n = 0;
    for (const info of await this.byUser(userId)) {
      if (info.id === except) continue;
      await this.#store.destroy(info.id);
      n++;
      this.#emit({ type: 'destroyed', id: info.id, userId, at: Date.now() });
    }
    return n;
  }

  async destroy(id: string): Promise<boolean> {
    checkSessionId(id);
    const data = await this.#store.get(id);
    if (!data) return false;
    await this.#store.destroy(id);
    const userId = userOf(data, this.#ctx.userKey);
    this.#emit({ type: 'destroyed', id, ...(userId !== undefined && { userId }), at: Date.now() });
    return true;
  }

  count(): Promise<number> {
    return this.#store.size();
  }
}
