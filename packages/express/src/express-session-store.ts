import { debuglog } from 'node:util';
import { Store, type SessionData as ExpressSessionData } from 'express-session';
import { cookieLifetime, sessionExpired, storeCall, withoutForeignKeys, type CookieRecord, type SessionStore, type SessionData } from '@scaleout/core';

const debug = debuglog('scaleout:express-store');

type Callback<T = void> = (err?: unknown, value?: T) => void;

/** Options of {@link ExpressSessionStore}. */
export interface ExpressSessionStoreOptions {
  /**
   * Longest a store operation may take; past it express-session gets a `StoreTimeoutError`.
   * @default 2000
   */
  timeoutMs?: number;
  /**
   * Session lifetime used when the session cookie has no `maxAge` (a browser-session cookie).
   * @default 1800000
   */
  ttlMs?: number;
}

/** Defaults of {@link ExpressSessionStoreOptions}. */
export const DEFAULT_EXPRESS_STORE_OPTIONS = {
  /** See {@link ExpressSessionStoreOptions.timeoutMs}. */
  timeoutMs: 2000,
  /** See {@link ExpressSessionStoreOptions.ttlMs}. */
  ttlMs: 30 * 60_000,
} as const;

/**
 * An express-session `Store` over any scaleout `SessionStore`, for apps that keep express-session
 * itself: the one place where the promise API meets express-session's callback contract. Every
 * method also returns a promise, as connect-redis's do (`await store.set(...)` waits). The store's `down`/`up` events become
 * express-session's `disconnect`/`connect`, so its outage path is taken.
 */
export class ExpressSessionStore extends Store {
  /** The scaleout store underneath. */
  readonly store: SessionStore;
  readonly #timeoutMs: number;
  readonly #ttlMs: number;

  constructor(store: SessionStore, options: ExpressSessionStoreOptions = {}) {
    super();
    this.store = store;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_EXPRESS_STORE_OPTIONS.timeoutMs;
    this.#ttlMs = options.ttlMs ?? DEFAULT_EXPRESS_STORE_OPTIONS.ttlMs;
    store.on('down', (err: unknown) => {
      debug('store down: %s', (err as Error | undefined)?.message);
      this.emit('disconnect');
    });
    store.on('up', () => this.emit('connect'));
  }

  // Every method answers both ways, as connect-redis does: through the callback when one is
  // given (the promise then resolves, errors go to the callback), else through the promise.
  #run<T>(op: string, work: () => Promise<T>, cb: Callback<T> | undefined): Promise<T | undefined> {
    let p: Promise<T>;
    try {
      p = storeCall(this.store, work(), this.#timeoutMs, op);
    } catch (err) {
      p = Promise.reject(err);
    }
    if (!cb) return p;
    return p.then(
      (v) => {
        cb(null, v);
        return v;
      },
      (err: unknown) => {
        cb(err);
        return undefined;
      },
    );
  }

  /** What the session has left by its cookie's `expires` (or `maxAge`); zero or less: expired. */
  #ttlOf(sess: ExpressSessionData | undefined): number {
    return cookieLifetime(sess?.cookie as CookieRecord | undefined, this.#ttlMs);
  }

  /** express-session's `get`: the session, or `null` when there is none. */
  override get = (sid: string, cb?: Callback<ExpressSessionData | null>): Promise<ExpressSessionData | null | undefined> => {
    return this.#run(
      'get',
      async () => {
        const data = await this.store.get(sid);
        if (!data) return null;
        // A session whose cookie has expired is gone, whatever the store still holds (as
        // express-session's MemoryStore): a replayed cookie must not bring it back.
        if (sessionExpired(data)) {
          await this.store.destroy(sid);
          return null;
        }
        const out = withoutForeignKeys(data, 'express') as unknown as ExpressSessionData;
        // A session first written by a Koa node has no cookie record; express-session needs one.
        if (!out.cookie || typeof out.cookie !== 'object') {
          (out as unknown as SessionData).cookie = { originalMaxAge: this.#ttlMs, expires: new Date(Date.now() + this.#ttlMs).toISOString(), httpOnly: true, path: '/' };
        }
        return out;
      },
      cb,
    );
  };

  /** express-session's `set`: writes the session, to expire when its cookie does. */
  override set = (sid: string, sess: ExpressSessionData, cb?: Callback): Promise<void> => {
    return this.#run('set', () => this.#save(sid, sess), cb);
  };

  async #save(sid: string, sess: ExpressSessionData): Promise<void> {
    const ttl = this.#ttlOf(sess);
    if (ttl <= 0) {
      // The app expired the session (`cookie.maxAge = 0`, or an `expires` in the past): delete it.
      await this.store.destroy(sid);
      return;
    }
    await this.store.set(sid, sess as unknown as SessionData, ttl);
  }

  /** express-session's `touch`: moves the expiry. A failure loses no data, so it is emitted as `touchError` rather than failing the request. */
  override touch = async (sid: string, sess: ExpressSessionData, cb?: Callback): Promise<void> => {
    const ttl = this.#ttlOf(sess);
    // The app expired the session without changing it: delete it.
    if (ttl <= 0) return this.#run('destroy', () => this.store.destroy(sid), cb);
    await this.#run('touch', () => this.store.touch(sid, ttl), (err) => {
      // A failed touch loses no data (the session was read a moment ago); it is reported, not fatal.
      if (err) this.emit('touchError', err);
      cb?.();
    });
  };

  /** express-session's `destroy`. */
  override destroy = (sid: string, cb?: Callback): Promise<void> => {
    return this.#run('destroy', () => this.store.destroy(sid), cb);
  };

  /**
   * Every live session, read one by one over the streamed ids, as an array of sessions that each
   * carry their `id` (connect-redis's shape; express-session allows an array or an object).
   */
  override all = (cb?: Callback<ExpressSessionData[]>): Promise<ExpressSessionData[] | undefined> => {
    return this.#run(
      'all',
      async () => {
        const out: ExpressSessionData[] = [];
        for await (const id of this.store.ids()) {
          const data = await this.store.get(id);
          if (data && !sessionExpired(data)) out.push({ ...(withoutForeignKeys(data, 'express') as unknown as ExpressSessionData), id } as ExpressSessionData);
        }
        return out;
      },
      cb,
    );
  };

  /** Every live session id (connect-redis's `ids()`). */
  ids = (cb?: Callback<string[]>): Promise<string[] | undefined> => {
    return this.#run(
      'ids',
      async () => {
        const out: string[] = [];
        for await (const id of this.store.ids()) out.push(id);
        return out;
      },
      cb,
    );
  };

  /** express-session's `length`: how many live sessions there are. */
  override length = (cb?: Callback<number>): Promise<number | undefined> => {
    return this.#run('length', () => this.store.size(), cb);
  };

  /** express-session's `clear`: removes every session of the store. */
  override clear = (cb?: Callback): Promise<void> => {
    return this.#run('clear', () => this.store.clear(), cb);
  };
}
