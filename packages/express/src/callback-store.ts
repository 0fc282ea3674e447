import { EventEmitter } from 'node:events';
import { InvalidArgumentError, type SessionData, type SessionStore } from '@scaleout/core';

/** An express-session `Store` (connect-redis, connect-mongo, express-session's MemoryStore, ...). */
export interface CallbackStore extends EventEmitter {
  /** Loads a session; `session` is `undefined` (or `null`) when there is none. */
  get(sid: string, cb: (err: unknown, session?: unknown) => void): void;
  /** Stores a whole session; its expiry comes from the session's `cookie`. */
  set(sid: string, session: unknown, cb?: (err?: unknown) => void): void;
  /** Removes a session. */
  destroy(sid: string, cb?: (err?: unknown) => void): void;
  /** Moves a session's expiry to the one its `cookie` carries, without rewriting its data. */
  touch?(sid: string, session: unknown, cb?: (err?: unknown) => void): void;
  /** Every stored session, as an array or an object keyed by id. */
  all?(cb: (err: unknown, sessions?: unknown) => void): void;
  /** How many sessions are stored. */
  length?(cb: (err: unknown, length?: number) => void): void;
  /** Removes every session. */
  clear?(cb?: (err?: unknown) => void): void;
  /** express-session's `Store.prototype.createSession`: its presence tells a callback store from a scaleout one. */
  createSession?: unknown;
}

/** True when `store` has express-session's callback `Store` API rather than scaleout's promises. */
export function isCallbackStore(store: unknown): store is CallbackStore {
  return typeof store === 'object' && store !== null && typeof (store as CallbackStore).createSession === 'function' && typeof (store as CallbackStore).get === 'function';
}

function call<T>(fn: (cb: (err: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}

/**
 * A scaleout `SessionStore` over an express-session `Store`, so an app that passes its own store
 * (`store: new RedisStore(...)` of connect-redis) keeps it. Such a store writes whole sessions:
 * it has no per-key patch or lock, and it gets its expiry from the stored `cookie`.
 */
export class CallbackStoreAdapter extends EventEmitter implements SessionStore {
  readonly #inner: CallbackStore;
  #available = true;

  constructor(inner: CallbackStore) {
    super();
    this.#inner = inner;
    // express-session's outage events: between them, requests take the store-down path.
    inner.on('disconnect', () => {
      this.#available = false;
      this.emit('down');
    });
    inner.on('connect', () => {
      this.#available = true;
      this.emit('up');
    });
  }

  get available(): boolean {
    return this.#available;
  }

  async get(id: string): Promise<SessionData | undefined> {
    try {
      const v = await call<unknown>((cb) => this.#inner.get(id, cb));
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? (JSON.parse(JSON.stringify(v)) as SessionData) : undefined;
    } catch (err) {
      if ((err as { code?: unknown })?.code === 'ENOENT') return undefined;
      throw err;
    }
  }

  set(id: string, data: SessionData): Promise<void> {
    return call((cb) => this.#inner.set(id, data, cb));
  }

  touch(id: string, ttlMs: number): Promise<void> {
    const touch = this.#inner.touch;
    if (typeof touch !== 'function') return Promise.resolve();
    // express-session's stores read the new expiry from the session's cookie.
    const cookie = { originalMaxAge: ttlMs, expires: new Date(Date.now() + ttlMs).toISOString() };
    return call((cb) => touch.call(this.#inner, id, { cookie }, cb));
  }

  destroy(id: string): Promise<void> {
    return call((cb) => this.#inner.destroy(id, cb));
  }

  async *ids(): AsyncIterable<string> {
    const all = this.#inner.all;
    if (typeof all !== 'function') throw new InvalidArgumentError('store', 'the express-session store has no all(): its ids cannot be listed');
    const sessions = await call<unknown>((cb) => all.call(this.#inner, cb));
    if (Array.isArray(sessions)) {
      for (const s of sessions) if (s && typeof (s as { id?: unknown }).id === 'string') yield (s as { id: string }).id;
    } else if (sessions && typeof sessions === 'object') yield* Object.keys(sessions);
  }

  async size(): Promise<number> {
    const length = this.#inner.length;
    if (typeof length === 'function') return call<number>((cb) => length.call(this.#inner, cb));
    let n = 0;
    for await (const _ of this.ids()) n++;
    return n;
  }

  clear(): Promise<void> {
    const clear = this.#inner.clear;
    if (typeof clear !== 'function') return Promise.reject(new InvalidArgumentError('store', 'the express-session store has no clear()'));
    return call((cb) => clear.call(this.#inner, cb));
  }

  async close(): Promise<void> {}
}
