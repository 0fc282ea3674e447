import { debuglog } from 'node:util';
import { Store, type SessionData as ExpressSessionData } from 'express-session';
import { clientLeft, cookieLifetime, diffSession, sessionExpired, storeCall, withoutForeignKeys, type CookieRecord, type SessionStore, type SessionData } from '@scaleout/core';
import { trackerOf } from './save-tracker.js';

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
 * An express-session `Store` over any scaleout `SessionStore`: the one place where the
 * promise API meets express-session's callback contract. The store's `down`/`up` events become
 * express-session's `disconnect`/`connect`, so its outage path is taken.
 */
export class ExpressSessionStore extends Store {
  /** The scaleout store underneath. */
  readonly store: SessionStore;
  readonly #timeoutMs: number;
  readonly #ttlMs: number;
  #handing: { sid: string; raw: SessionData } | undefined;

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

  #run<T>(op: string, work: () => Promise<T>, cb: Callback<T> | undefined): void {
    let p: Promise<T>;
    try {
      p = storeCall(this.store, work(), this.#timeoutMs, op);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (v) => cb?.(null, v),
      (err: unknown) => cb?.(err),
    );
  }

  /** What the session has left by its cookie's `expires` (or `maxAge`); zero or less: expired. */
  #ttlOf(sess: ExpressSessionData | undefined): number {
    return cookieLifetime(sess?.cookie as CookieRecord | undefined, this.#ttlMs);
  }

  /**
   * The raw stored session that `get` is handing to express-session at this moment, for `sid`.
   * express-session inflates the session and calls the next middleware synchronously inside the
   * `get` callback, so the scaleout layer reads this there to remember what the request loaded.
   * @internal
   */
  loadedNow(sid: string): SessionData | undefined {
    return this.#handing?.sid === sid ? this.#handing.raw : undefined;
  }

  /** express-session's `get`: the session, or `null` when there is none. */
  override get = (sid: string, cb: Callback<ExpressSessionData | null>): void => {
    let raw: SessionData | undefined;
    this.#run(
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
        raw = data;
        const out = withoutForeignKeys(data, 'express') as unknown as ExpressSessionData;
        // A session first written by a Koa node has no cookie record; express-session needs one.
        if (!out.cookie || typeof out.cookie !== 'object') {
          (out as unknown as SessionData).cookie = { originalMaxAge: this.#ttlMs, expires: new Date(Date.now() + this.#ttlMs).toISOString(), httpOnly: true, path: '/' };
        }
        return out;
      },
      (err, value) => {
        this.#handing = raw && !err ? { sid, raw } : undefined;
        try {
          cb(err, value);
        } finally {
          this.#handing = undefined;
        }
      },
    );
  };

  /** express-session's `set`: writes what the request changed (or the whole session); the response waits for it. */
  override set = (sid: string, sess: ExpressSessionData, cb?: Callback): void => {
    const done = trackerOf(sess)?.begin();
    this.#run('set', () => this.#save(sid, sess), (err) => {
      done?.(err);
      cb?.(err);
    });
  };

  // Only what the request changed is written when the store can patch and the request loaded
  // this session: two concurrent requests that set different keys then both survive.
  async #save(sid: string, sess: ExpressSessionData): Promise<void> {
    const tracker = trackerOf(sess);
    if (await clientLeft(this.store, (sess as unknown as { req?: { socket?: { destroyed?: boolean } } }).req?.socket)) {
      // The client gave up (a balancer's timeout): nobody will see this answer, and a save
      // computed from what the request read long ago would overwrite updates acknowledged since.
      debug('the client left before the save: not saved');
      return;
    }
    if (tracker?.noStore) {
      debug('session.secure is true but the request is not HTTPS: its cookie cannot be sent, so it is not stored (trust the TLS proxy: app.set("trust proxy", ...))');
      return;
    }
    const loaded = tracker?.loaded;
    const ttl = this.#ttlOf(sess);
    if (ttl <= 0) {
      // The app expired the session (`cookie.maxAge = 0`, or an `expires` in the past): delete it.
      await this.store.destroy(sid);
      return;
    }
    if (loaded && loaded.id === sid && this.store.patch) {
      await this.store.patch(sid, diffSession(loaded.fields, sess as unknown as SessionData, ['cookie']), ttl);
      return;
    }
    await this.store.set(sid, sess as unknown as SessionData, ttl);
  }

  /** express-session's `touch`: moves the expiry. A failure loses no data, so it is emitted as `touchError` rather than failing the request. */
  override touch = (sid: string, sess: ExpressSessionData, cb?: Callback): void => {
    const ttl = this.#ttlOf(sess);
    if (ttl <= 0) {
      // The app expired the session without changing it: delete it, and hold the response until
      // it is gone so a replay of the cookie right after cannot load it.
      const done = trackerOf(sess)?.begin();
      this.#run('destroy', () => this.store.destroy(sid), (err) => {
        done?.(err);
        cb?.(err);
      });
      return;
    }
    this.#run('touch', () => this.store.touch(sid, ttl), (err) => {
      // A failed touch loses no data (the session was read a moment ago); it is reported, not fatal.
      if (err) this.emit('touchError', err);
      cb?.();
    });
  };

  /** express-session's `destroy`. */
  override destroy = (sid: string, cb?: Callback): void => {
    this.#run('destroy', () => this.store.destroy(sid), cb);
  };

  /** express-session's `all`: every live session by id, read one by one over the streamed ids. */
  override all = (cb: Callback<ExpressSessionData[] | { [sid: string]: ExpressSessionData } | null>): void => {
    this.#run(
      'all',
      async () => {
        const out: Record<string, ExpressSessionData> = {};
        for await (const id of this.store.ids()) {
          const data = await this.store.get(id);
          if (data) out[id] = withoutForeignKeys(data, 'express') as unknown as ExpressSessionData;
        }
        return out;
      },
      cb,
    );
  };

  /** express-session's `length`: how many live sessions there are. */
  override length = (cb: Callback<number>): void => {
    this.#run('length', () => this.store.size(), cb);
  };

  /** express-session's `clear`: removes every session of the store. */
  override clear = (cb?: Callback): void => {
    this.#run('clear', () => this.store.clear(), cb);
  };
}
