import { clientLeft, diffSession, sessionExpired, snapshotSession, storeCall, withoutForeignKeys, type SessionSnapshot, type SessionStore, type SessionData } from '@scaleout/core';

const kLoaded = Symbol('scaleout.loadedSnapshot');
type WithLoaded = { [kLoaded]?: { key: string; fields: SessionSnapshot } };

/** koa-session's external store contract (`opts.store`). */
export interface KoaExternalStore {
  /** Reads a session; `undefined` when there is none. */
  get(key: string, maxAge: number | 'session' | undefined, data: { rolling: boolean; ctx: unknown }): Promise<SessionData | undefined>;
  /** Writes the whole session. */
  set(key: string, sess: SessionData, maxAge: number | 'session' | undefined, data: { rolling: boolean; changed: boolean; ctx: unknown }): Promise<void>;
  /** Removes the session. */
  destroy(key: string, data: { ctx: unknown }): Promise<void>;
}

/** Options of {@link koaSessionStore}. */
export interface KoaSessionStoreOptions {
  /** Longest a store operation may take. @default 2000 */
  timeoutMs?: number;
  /** Store TTL when koa-session passes `maxAge: 'session'`. @default 1800000 */
  ttlMs?: number;
}

/**
 * A koa-session external store over any scaleout `SessionStore`. koa-session hands the store
 * `maxAge + 10 s`; the session's own `_maxAge` is used instead when present, so the store's
 * expiry matches the Express layer's.
 */
export function koaSessionStore(store: SessionStore, options: KoaSessionStoreOptions = {}): KoaExternalStore {
  const timeoutMs = options.timeoutMs ?? 2000;
  const fallbackTtl = options.ttlMs ?? 30 * 60_000;
  const ttlOf = (maxAge: number | 'session' | undefined) => (typeof maxAge === 'number' && maxAge > 0 ? maxAge : fallbackTtl);
  return {
    async get(key, _maxAge, { ctx }) {
      const data = await storeCall(store, store.get(key), timeoutMs, 'get');
      if (!data) return undefined;
      // Expired by its own record (a past `_expire` or cookie expiry): gone, and a replayed
      // cookie must not bring it back while the backend still holds it.
      if (sessionExpired(data)) {
        await storeCall(store, store.destroy(key), timeoutMs, 'destroy');
        return undefined;
      }
      // What this request loaded, key by key: its save then writes only what it changed.
      if (ctx && typeof ctx === 'object') (ctx as WithLoaded)[kLoaded] = { key, fields: snapshotSession(data, ['_expire', '_maxAge']) };
      return withoutForeignKeys(data, 'koa');
    },
    async set(key, sess, maxAge, { ctx }) {
      // The client gave up (a balancer's timeout): a save computed from what the request read
      // long ago would overwrite updates acknowledged since, and nobody will see this answer.
      if (await clientLeft(store, (ctx as { req?: { socket?: { destroyed?: boolean } } } | undefined)?.req?.socket)) return;
      // koa-session adds 10 s to maxAge so the entry outlives the cookie; the session's own
      // `_maxAge` keeps the store's expiry equal to Express's for the same config.
      const own = typeof sess._maxAge === 'number' ? sess._maxAge : maxAge;
      // A lifetime of zero or less ends the session (koa-session itself reads `maxAge: 0` as
      // one day; the app that sets it means "expire now", as `cookie.maxAge = 0` in Express).
      const asked = (ctx as { sessionOptions?: { maxAge?: unknown } } | undefined)?.sessionOptions?.maxAge;
      if ((typeof own === 'number' && own <= 0) || (typeof asked === 'number' && asked <= 0)) {
        await storeCall(store, store.destroy(key), timeoutMs, 'destroy');
        return;
      }
      const loaded = ctx && typeof ctx === 'object' ? (ctx as WithLoaded)[kLoaded] : undefined;
      if (loaded && loaded.key === key && store.patch) {
        await storeCall(store, store.patch(key, diffSession(loaded.fields, sess, ['_expire', '_maxAge']), ttlOf(own)), timeoutMs, 'set');
        return;
      }
      await storeCall(store, store.set(key, sess, ttlOf(own)), timeoutMs, 'set');
    },
    async destroy(key) {
      await storeCall(store, store.destroy(key), timeoutMs, 'destroy');
    },
  };
}
