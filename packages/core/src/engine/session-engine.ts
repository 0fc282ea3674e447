import { debuglog } from 'node:util';
import { clientLeft, MAX_COOKIE_HEADER, routeSetCookie, verifySessionId } from '../http.js';
import { parse } from 'cookie';
import { diffSession, type SessionPatch } from '../session-patch.js';
import { checkSessionId } from '../session-value.js';
import { storeCall } from '../timeout.js';
import type { SessionData, SessionEvent, SessionStore, Strategy, SyncSessionOps } from '../types.js';
import { resolveEngineOptions, type ResolvedEngineOptions, type SessionEngineOptions } from './engine-options.js';
import { SessionCookie, type SessionCookieOptions } from './session-cookie.js';
import { SessionState, type Inflated, type RequestIO, type SessionBinding } from './session-state.js';
import { SESSION_RECORD_KEY } from '../session-directory.js';
import { userOf } from '../user-index.js';
import { failureOutcome, type SessionObserver } from './session-observer.js';
import { bothObservers, SessionTracing } from './session-tracing.js';
import { planCommit, type StoreWork } from './commit-plan.js';
import { inflateSession, isLive } from './stored-session.js';

const debug = debuglog('scaleout:engine');


/** Longest signed cookie value read: ids are short, so more is an attack (RFC 6265 §6.1 sizes aside). */
const MAX_COOKIE_VALUE = 512;


/**
 * The request's cookies. The engine reads only names that config validation keeps out of
 * `Object.prototype`, so a plain object is safe; an oversized or garbled header reads as none.
 */
export function readCookies(header: string | undefined): Record<string, string | undefined> {
  if (!header || header.length > MAX_COOKIE_HEADER) return {};
  try {
    return parse(header);
  } catch {
    return {};
  }
}

/**
 * The session lifecycle, once, for every framework: cookie parse and constant-time
 * verification with rotation, id generation, load under the store timeout with the optional
 * lock, a snapshot to save only the keys a request changed, rolling expiry with coalesced
 * touches, regenerate and destroy, the route cookie of `sticky`, the secure-cookie rule and the
 * abandoned-request rule. The bindings call `open()` when a request arrives and `commit()` at
 * the start of its response, and finish the save before the first byte goes out.
 */
export class SessionEngine {
  /** The options resolved against the strategy. */
  readonly options: ResolvedEngineOptions;
  /** The store sessions are loaded from and saved to (the strategy's). */
  readonly store: SessionStore;
  /** The framework binding that reads requests and writes responses. */
  readonly binding: SessionBinding;
  readonly #strategy: Strategy;
  readonly #tracing: SessionTracing | undefined;
  #both: { metrics: SessionObserver; both: SessionObserver } | undefined;

  /** `store` replaces the strategy's (an app that passes its own); events still go to the strategy. */
  constructor(strategy: Strategy, options: SessionEngineOptions, binding: SessionBinding, store: SessionStore = strategy.store) {
    this.#strategy = strategy;
    this.store = store;
    this.options = resolveEngineOptions({ ...strategy, store }, options);
    this.binding = binding;
    const storeType = store !== strategy.store ? 'custom' : strategy.kind === 'cluster' ? 'cluster' : (strategy.config?.store?.type ?? 'memory');
    this.#tracing = SessionTracing.create(storeType);
  }

  /** The strategy's observer (metrics), the tracing one when a tracer provider is set, both, or none. */
  #observer(): SessionObserver | undefined {
    const metrics = this.#strategy.observer;
    const tracing = this.#tracing?.active ? this.#tracing : undefined;
    if (!tracing || !metrics) return metrics ?? tracing;
    if (this.#both?.metrics !== metrics) this.#both = { metrics, both: bothObservers(metrics, tracing) };
    return this.#both.both;
  }

  /** `false` while the store is known to be down (the request then gets a 503, or bypasses). */
  get available(): boolean {
    return this.store.available !== false;
  }

  /** Sets the `sticky` strategy's route cookie when the client's is missing or stale. */
  route(io: RequestIO, cookies = readCookies(io.cookieHeader())): void {
    const route = this.#strategy.route;
    if (!route) return;
    const line = routeSetCookie(route, cookies, this.#strategy.session, io.isSecure());
    if (line) io.setCookie(line);
  }

  /** A store call under the store timeout (none for in-process stores). */
  call<T>(p: Promise<T>, op: string): Promise<T> {
    return storeCall(this.store, p, this.options.storeTimeoutMs, op);
  }

  /** The stored session `id`, split for a request, or `undefined` (none, or expired by its own record: then deleted). */
  async read(id: string, defaults: SessionCookieOptions): Promise<Inflated | undefined> {
    const data = await this.call(this.store.get(id), 'get');
    if (!data) return undefined;
    const inflated = this.inflate(data, defaults);
    if (isLive(inflated)) return inflated;
    await this.call(this.store.destroy(id), 'destroy');
    return undefined;
  }

  /** The store's synchronous operations, when a request may use them: no lock to wait for. */
  #syncOps(): SyncSessionOps | undefined {
    return this.options.lock ? undefined : this.store.sync;
  }

  /**
   * `open()` done at once when the store is in this process (`SessionStore.sync`) and no lock is
   * taken: no promise is made, and an observer is told at once. `undefined` when the request must
   * await `open()` instead. Throws what `open()` rejects with.
   */
  openNow(io: RequestIO, cookies = readCookies(io.cookieHeader()), verifiedId?: string): SessionState | undefined {
    const sync = this.#syncOps();
    if (!sync) return undefined;
    const ob = this.#observer();
    const raw = cookies[this.options.name];
    const verified = this.#identify(raw, verifiedId);
    const defaults = this.options.cookie(io.req);
    if (!verified) {
      ob?.outcome('new');
      return new SessionState(this, io, defaults, { id: this.#newId(io) });
    }
    const t = ob ? performance.now() : 0;
    const data = sync.get(verified.id);
    let stored = data && this.inflate(data, defaults);
    if (stored && !isLive(stored)) {
      sync.destroy(verified.id);
      stored = undefined;
    }
    if (ob) {
      const outcome = stored ? 'loaded' : 'new';
      ob.load((performance.now() - t) / 1000, outcome);
      ob.outcome(outcome);
    }
    return this.#opened(io, defaults, raw, verified, stored, undefined);
  }

  /**
   * Loads the request's session (or makes a new one). Rejects with the store's coded error when
   * the store fails or times out, or with `ERR_SCALEOUT_LOCK_TIMEOUT`.
   */
  async open(io: RequestIO, cookies = readCookies(io.cookieHeader()), verifiedId?: string): Promise<SessionState> {
    const raw = cookies[this.options.name];
    const verified = this.#identify(raw, verifiedId);
    const defaults = this.options.cookie(io.req);
    // Read once per request: an observer set after the middleware was made is seen.
    const ob = this.#observer();
    if (!verified) {
      ob?.outcome('new');
      return new SessionState(this, io, defaults, { id: this.#newId(io) });
    }
    const id = verified.id;
    const lock = this.options.lock;
    let t = ob ? performance.now() : 0;
    let release: (() => Promise<void>) | undefined;
    if (lock) {
      try {
        release = await this.store.lock!(id, lock);
      } catch (err) {
        if (ob) this.#failed(ob, err, t, false);
        throw err;
      }
      if (ob) {
        ob.lockWait((performance.now() - t) / 1000);
        t = performance.now();
      }
    }
    try {
      const stored = await this.read(id, defaults);
      if (ob) {
        const outcome = stored ? 'loaded' : 'new';
        ob.load((performance.now() - t) / 1000, outcome);
        ob.outcome(outcome);
      }
      return this.#opened(io, defaults, raw, verified, stored, release);
    } catch (err) {
      release?.().catch(() => {});
      if (ob) this.#failed(ob, err, t, true);
      throw err;
    }
  }

  /**
   * The request's verified session id. `verifiedId`: an id another layer already verified
   * (express-session's back-compat with cookie-parser's signedCookies); it is re-signed when sent back.
   */
  #identify(raw: string | undefined, verifiedId: string | undefined): { id: string; current: boolean } | undefined {
    return verifiedId !== undefined && verifiedId.length > 0 && verifiedId.length <= MAX_COOKIE_VALUE ? { id: verifiedId, current: false } : this.#verify(raw);
  }

  /** The state of a request whose cookie named `verified.id`: the stored session, or a new one when none was found. */
  #opened(io: RequestIO, defaults: SessionCookieOptions, raw: string | undefined, verified: { id: string; current: boolean }, stored: Inflated | undefined, release: (() => Promise<void>) | undefined): SessionState {
    const id = verified.id;
    return new SessionState(this, io, defaults, { id: stored ? id : this.#newId(io), cookieId: id, signedValue: stored && verified.current ? raw : undefined, stored, release });
  }

  /** Tells the observer of a failed lock or load: a 503 only where the binding answers one (not under `bypass`). */
  #failed(ob: SessionObserver, err: unknown, start: number, loading: boolean): void {
    const seconds = (performance.now() - start) / 1000;
    const outcome = failureOutcome(err);
    if (loading) ob.load(seconds, outcome ?? 'error');
    else ob.lockWait(seconds);
    if (outcome === 'lock_timeout' || (outcome !== undefined && this.options.onStoreDown === 'fail')) ob.outcome(outcome);
  }

  /** The binding answered a 503 without asking the store, which is known to be down. */
  refused(): void {
    this.#observer()?.outcome('503_unavailable');
  }

  #newId(io: RequestIO): string {
    const id = this.options.genid(io.req);
    checkSessionId(id);
    return id;
  }

  /** The id in a signed cookie value (express-session's `s:<id>.<hmac>`), verified under every secret in constant time. */
  #verify(value: string | undefined): { id: string; current: boolean } | undefined {
    const verified = verifySessionId(value, this.options.secrets);
    return verified && verified.id.length > 0 ? verified : undefined;
  }


  /** Splits a stored session into data, cookie and what the request must compare against. */
  inflate(stored: SessionData, defaults: SessionCookieOptions): Inflated {
    return inflateSession(stored, defaults, this.options.userKey);
  }

  /** Tells the strategy's listeners (`strategy.on('session', ...)`). */
  emitSession(type: SessionEvent['type'], id: string, userId: string | undefined): void {
    const events = this.#strategy as Partial<Pick<Strategy, 'emit'>>;
    if (typeof events.emit !== 'function') return;
    events.emit('session', { type, id, ...(userId !== undefined && { userId }), at: Date.now() });
  }

  /** The session object's data keys as a plain object. */
  dataOf(session: SessionData): SessionData {
    const out: SessionData = {};
    for (const k of Object.keys(session)) if (k !== 'cookie' && this.binding.isDataKey(k)) out[k] = session[k];
    return out;
  }

  /** The store's lifetime for a session with this cookie. */
  #ttl(cookie: SessionCookie): number {
    const left = cookie.maxAge;
    return left === null ? this.options.ttlMs : left;
  }

  /**
   * Writes a session: its changed keys when it was loaded and the store can patch, else the
   * whole of it. A patch of a session that vanished meanwhile (destroyed, expired) writes
   * nothing: a late save must not bring it back.
   */
  async write(state: SessionState, data: SessionData, full: boolean, patch?: SessionPatch): Promise<void> {
    const ttl = this.#ttl(state.cookie);
    const before = state.loaded?.user;
    if (this.#whole(state, full)) {
      const created = state.isNew;
      await this.call(this.store.set(state.id, this.#record(state, data), ttl), 'set');
      this.#written(state, data, before, created);
      return;
    }
    this.#patched(state, data, before, await this.call(this.store.patch!(state.id, this.#patchOf(state, data, patch), ttl), 'set'));
  }

  /** `write()` done at once by the store's synchronous operations. */
  #writeNow(sync: SyncSessionOps, state: SessionState, data: SessionData, patch: SessionPatch | undefined): void {
    const ttl = this.#ttl(state.cookie);
    const before = state.loaded?.user;
    if (this.#whole(state, false)) {
      const created = state.isNew;
      sync.set(state.id, this.#record(state, data), ttl);
      this.#written(state, data, before, created);
      return;
    }
    this.#patched(state, data, before, sync.patch(state.id, this.#patchOf(state, data, patch), ttl));
  }

  /** Whether a write stores the whole session rather than a patch of the loaded one. */
  #whole(state: SessionState, full: boolean): boolean {
    return full || state.isNew || !state.loaded || !this.store.patch;
  }

  /** The whole session as stored: its data, its cookie and the engine's record. */
  #record(state: SessionState, data: SessionData): SessionData {
    const record = (state.record ??= { createdAt: Date.now() });
    return { ...data, cookie: state.cookie.toJSON(), [SESSION_RECORD_KEY]: record };
  }

  /** The store patch of a loaded session: what the request changed, its cookie, and the old-format keys dropped. */
  #patchOf(state: SessionState, data: SessionData, patch: SessionPatch | undefined): SessionPatch {
    const loaded = state.loaded!;
    const p = patch ?? diffSession(loaded.snapshot, data);
    return { set: { ...p.set, cookie: state.cookie.toJSON() }, unset: loaded.legacy.length ? [...p.unset, ...loaded.legacy] : p.unset };
  }

  #patched(state: SessionState, data: SessionData, before: string | undefined, applied: boolean): void {
    if (!applied) debug('the session was removed while the request ran: not brought back');
    else this.#written(state, data, before, false);
  }

  #written(state: SessionState, data: SessionData, before: string | undefined, created: boolean): void {
    const user = userOf(data, this.options.userKey);
    if (created) this.emitSession('created', state.id, user);
    if (user !== before) this.emitSession('userChanged', state.id, user);
    if (state.loaded) state.loaded.user = user;
  }

  /**
   * Finishes a request's session: sets the session cookie synchronously (the response has not
   * started), then resolves once the store holds what it must. Rejects with the store's error.
   */
  commit(state: SessionState): Promise<void> {
    return this.commitNow(state) ?? Promise.resolve();
  }

  /**
   * `commit()`, done at once when the store is in this process (`SessionStore.sync`) and no lock
   * waits on it: then the store holds the session when this returns `undefined`, no promise was
   * made, and an observer was told at once. Otherwise the promise of the rest, as `commit()`
   * returns it.
   */
  commitNow(state: SessionState): Promise<void> | undefined {
    const ob = this.#observer();
    const sync = state.locked ? undefined : this.#syncOps();
    const t = ob ? performance.now() : 0;
    let p: Promise<void> | undefined;
    try {
      const work = planCommit(this, state);
      if (sync) {
        p = this.#doNow(sync, state, work);
        if (!p) {
          if (ob) this.#committed(ob, state, t);
          return undefined;
        }
      } else p = this.#do(state, work);
    } catch (err) {
      p = Promise.reject(err);
    }
    if (ob) p = this.#observed(p, ob, state, t);
    return state.locked ? p.finally(() => state.release()) : p;
  }

  /** Does a commit's store work. */
  #do(state: SessionState, work: StoreWork): Promise<void> {
    switch (work?.op) {
      case undefined:
        return Promise.resolve();
      case 'destroyState':
        return state.destroy();
      case 'destroy':
        return this.call(this.store.destroy(state.id), 'destroy');
      case 'write':
        return this.#guarded(state, () => this.write(state, work.data, false, work.patch));
      case 'touch':
        return this.#guarded(state, () => (this.store.patch ? this.write(state, work.data, false, { set: {}, unset: [] }) : this.call(this.store.touch(state.id, this.#ttl(state.cookie)), 'touch')));
    }
  }

  /** Does a commit's store work at once; the app's own destroy, rare, still goes through its promise. */
  #doNow(sync: SyncSessionOps, state: SessionState, work: StoreWork): Promise<void> | undefined {
    switch (work?.op) {
      case undefined:
        return undefined;
      case 'destroyState':
        return state.destroy();
      case 'destroy':
        sync.destroy(state.id);
        return undefined;
      case 'write':
      case 'touch':
        // An in-process store writes at once: the socket's state now is all there is to see.
        if (state.io.socket()?.destroyed === true) return this.#skipped(state);
        if (work.op === 'write') this.#writeNow(sync, state, work.data, work.patch);
        else if (this.store.patch) this.#writeNow(sync, state, work.data, { set: {}, unset: [] });
        else sync.touch(state.id, this.#ttl(state.cookie));
        return undefined;
    }
  }

  /** Tells the observer how a commit that succeeded ended. */
  #committed(ob: SessionObserver, state: SessionState, start: number): void {
    const outcome = state.outcome;
    if (outcome === 'saved') ob.save((performance.now() - start) / 1000, outcome);
    ob.outcome(outcome);
  }

  #observed(p: Promise<void>, ob: SessionObserver, state: SessionState, start: number): Promise<void> {
    return p.then(
      () => this.#committed(ob, state, start),
      (err: unknown) => {
        const outcome = failureOutcome(err);
        ob.save((performance.now() - start) / 1000, outcome ?? 'error');
        // A failed save is always answered with a 503 (or a cut response), whatever onStoreDown says.
        if (outcome) ob.outcome(outcome);
        throw err;
      },
    );
  }




  /** Runs a write unless the request's client has gone (its answer would never be seen, and its data is stale). */
  #guarded(state: SessionState, work: () => Promise<void>): Promise<void> {
    const socket = state.io.socket();
    // An in-process store writes at once: the socket's state now is all there is to see.
    if (this.store.local) return socket?.destroyed === true ? this.#skipped(state) : work();
    return clientLeft(this.store, socket).then((left) => (left ? this.#skipped(state) : work()));
  }

  #skipped(state: SessionState): Promise<void> {
    debug('the client left before the save: not saved');
    state.outcome = 'abandoned';
    return Promise.resolve();
  }

}

