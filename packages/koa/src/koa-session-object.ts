import { inspect } from 'node:util';
import { dressSession, type SessionBinding, type SessionData, type SessionState } from '@scaleout/core';

/** Where a session object keeps its engine state (a symbol: never a session key, never serialized). */
export const kState = Symbol('scaleout.session');

/**
 * `ctx.session`, with koa-session's `Session` API: own keys are the data; `isNew`, `maxAge`,
 * `save()`, `regenerate()` and `manuallyCommit()` live on the prototype. `toJSON()` leaves out
 * keys starting with `_`, as koa-session does, but they are stored (a mixed Express and Koa
 * fleet shares one session).
 */
export class KoaSession {
  /** The engine's state of this request's session, behind a symbol so it is never one of the session's keys. @internal */
  declare [kState]: SessionState;

  /** True for a session created by this request. */
  get isNew(): boolean {
    return this[kState].cookieId === undefined || this[kState].id !== this[kState].cookieId;
  }

  /** How many keys the session holds. */
  get length(): number {
    return Object.keys(this.toJSON()).length;
  }

  /** True when the session holds anything. */
  get populated(): boolean {
    return this.length > 0;
  }

  /** The lifetime in ms, or `'session'` for a browser-session cookie. Setting it saves the session. */
  get maxAge(): number | 'session' {
    return this[kState].cookie.originalMaxAge ?? 'session';
  }
  /** Sets the lifetime in ms, or `'session'` for a browser-session cookie, and saves the session. */
  set maxAge(value: number | 'session') {
    const state = this[kState];
    state.cookie.maxAge = value === 'session' ? null : value;
    state.forceSave = true;
  }

  /** Saves the session when the response starts, changed or not. */
  save(callback?: (err?: unknown) => void): Promise<void> {
    this[kState].forceSave = true;
    callback?.();
    return Promise.resolve();
  }

  /** A new id for the same data (koa-session keeps the data); the old id is destroyed. */
  async regenerate(callback?: (err?: unknown) => void): Promise<void> {
    const state = this[kState];
    try {
      await state.regenerate(true);
      state.forceSave = true;
      callback?.();
    } catch (err) {
      if (!callback) throw err;
      callback(err);
    }
  }

  /** Commits now (with `autoCommit: false`): the cookie is set and the store written. */
  manuallyCommit(): Promise<void> {
    return this[kState].commit();
  }

  /** The stored data. */
  toJSON(): SessionData {
    const out: SessionData = {};
    for (const k of Object.keys(this)) if (k[0] !== '_' && typeof (this as SessionData)[k] !== 'function') out[k] = (this as SessionData)[k];
    return out;
  }

  /** What `util.inspect()` and `console.log()` show: the session's data, as `toJSON()`. */
  [inspect.custom](): SessionData {
    return this.toJSON();
  }
}

/** How the engine dresses a Koa session. */
export const koaBinding: SessionBinding = {
  wrap(state: SessionState, data: SessionData): SessionData {
    const s = dressSession(KoaSession.prototype, kState, state, data) as KoaSession & SessionData;
    // As koa-session: a `maxAge` in the data given to `ctx.session = {...}` sets the lifetime.
    if (typeof data.maxAge === 'number' || data.maxAge === 'session') s.maxAge = data.maxAge;
    return s;
  },
  // Every own key is stored, `_`-keys too: an Express node of the same fleet may have written them.
  isDataKey: () => true,
};
