import { snapshotSession, type SessionSnapshot } from '../session-patch.js';
import type { SessionData } from '../types.js';
import type { SessionEngine } from './session-engine.js';
import { SessionCookie, type CookieFields, type SessionCookieOptions } from './session-cookie.js';
import { InvalidArgumentError } from '../errors.js';
import type { SessionRecord } from '../session-directory.js';
import { checkUserId, userOf } from '../user-index.js';

/**
 * What the engine sees of one request and its response: a header to read, a header to set,
 * whether the request came over TLS, and whether the client is still there. It never touches
 * the framework's request or response itself.
 */
export interface RequestIO {
  /** The framework's request, handed to `genid` and to a `cookie` function. */
  readonly req: unknown;
  /** The request's `Cookie` header. */
  cookieHeader(): string | undefined;
  /** True when the request came over TLS (directly, or through a proxy the app trusts). */
  isSecure(): boolean;
  /** The client's connection, to tell whether it has gone (the abandoned-request rule). */
  socket(): {
    /** True once the connection is closed. */
    readonly destroyed?: boolean;
  } | undefined;
  /** Adds a `Set-Cookie` line to the response, which has not started yet. */
  setCookie(line: string): void;
  /**
   * Optional: sets the session cookie through the framework's own cookie API instead (Koa's
   * `ctx.cookies`), so its attributes read as that framework writes them.
   */
  setCookieFields?(name: string, value: string, fields: CookieFields): void;
}

/** How a binding dresses a session: its object with the framework's methods, and which own keys are data. */
export interface SessionBinding {
  /** The framework's session object for `state`, holding a copy of `data`'s keys. */
  wrap(state: SessionState, data: SessionData): SessionData;
  /** Whether an own key of the session object is session data (not framework bookkeeping). */
  isDataKey(key: string): boolean;
}

/**
 * A framework's session object: `proto` for its methods, the state under `key` (a symbol, so
 * never a session key), then the data. A stored key that names a method does not shadow it.
 */
export function dressSession(proto: object, key: symbol, state: SessionState, data: SessionData): SessionData {
  const s = Object.create(proto) as SessionData & Record<symbol, SessionState>;
  s[key] = state;
  for (const k of Object.keys(data)) if (!(k in s)) s[k] = data[k];
  return s;
}

/** The `committed` promise of a session committed at once. */
const COMMITTED = Promise.resolve();

/** What a loaded session looked like, to tell what the request changed. */
export interface LoadedRecord {
  /** The session's data as loaded, to compare against at commit. */
  snapshot: SessionSnapshot;
  /** The stored cookie record without its expiry, as JSON. */
  cookieShape: string;
  /** When the stored session expires by its cookie (ms since epoch), if it says. */
  expiresAt: number | undefined;
  /** Bookkeeping keys of an older format to drop on the next write. */
  legacy: string[];
  /** The user the stored session belongs to (`userKey`), as last written. */
  user: string | undefined;
}

/** Options of `login()`. */
export interface LoginOptions {
  /** A small record shown by `strategy.sessions.byUser()` (a user agent, an IP): a plain object of at most 1 KB as JSON. */
  meta?: Record<string, unknown>;
}

/** Most bytes of `meta`, as JSON. */
export const MAX_META_BYTES = 1024;

function checkMeta(meta: unknown): Record<string, unknown> | undefined {
  if (meta === undefined) return undefined;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw new InvalidArgumentError('meta', 'login meta must be a plain object');
  let json: string;
  try {
    json = JSON.stringify(meta);
  } catch {
    throw new InvalidArgumentError('meta', 'login meta must be JSON (no cycles, no BigInt)');
  }
  if (Buffer.byteLength(json) > MAX_META_BYTES) throw new InvalidArgumentError('meta', `login meta is ${Buffer.byteLength(json)} bytes as JSON; at most ${MAX_META_BYTES} are kept`);
  return JSON.parse(json) as Record<string, unknown>;
}

/** A stored session split for a request: its data, its cookie, and what to compare against. */
export interface Inflated {
  /** The framework's session object, filled with the stored data. */
  data: SessionData;
  /** The session cookie, restored from the stored record over the configured attributes. */
  cookie: SessionCookie;
  /** The engine's own record (creation time, login `meta`), if the stored session has one. */
  record: SessionRecord | undefined;
  /** What the stored session looked like, to tell what the request changed. */
  loaded: LoadedRecord;
}

/**
 * One request's session: its id, its cookie, the framework's session object (`data`) and what
 * the store held when it was loaded. Created by `SessionEngine.open()`; the bindings expose
 * its operations with their framework's names.
 */
export class SessionState {
  /** The session id (a new one after `regenerate()`). */
  id: string;
  /** The framework's session object; `null` once destroyed or removed by the app. */
  data: SessionData | null;
  /** The session cookie the response will carry. */
  cookie: SessionCookie;
  /** Not in the store: a new session, or one given a new id. */
  isNew: boolean;
  /** The id the request's cookie carried and verified, if any. */
  readonly cookieId: string | undefined;
  /** The cookie value as received, when it is still signed with the newest secret (no re-signing). */
  readonly signedValue: string | undefined;
  /** The request and response, as the binding reads and writes them. */
  readonly io: RequestIO;
  /** Save at commit whatever the rules say (koa-session `save()`, `maxAge` set). */
  forceSave = false;
  /** Write the stored expiry at commit even when it is recent (the app called `touch()`). */
  touched = false;
  /** Saved by `save()` during the request: `resave` does not save it again unless it changed. */
  saved = false;
  /** Send an expired cookie at commit (koa-session `ctx.session = null`, `logout`). */
  clearCookie = false;
  /** With `data` set to `null` by the app: delete the stored session at commit (`unset: "destroy"`, `ctx.session = null`). */
  destroyOnCommit = false;
  /** @internal */ loaded: LoadedRecord | undefined;
  /** The engine's own record (creation time, login `meta`), written with a whole session. */
  record: SessionRecord | undefined;
  /** @internal */ committed: Promise<void> | undefined;
  readonly #engine: SessionEngine;
  /** What the commit did, for the engine's observer: set by the engine as it decides. */
  outcome: 'saved' | 'unchanged' | 'abandoned' = 'unchanged';
  #release: (() => Promise<void>) | undefined;

  constructor(engine: SessionEngine, io: RequestIO, defaults: SessionCookieOptions, init: { id: string; cookieId?: string; signedValue?: string; stored?: Inflated; release?: () => Promise<void> }) {
    this.#engine = engine;
    this.io = io;
    this.id = init.id;
    this.cookieId = init.cookieId;
    this.signedValue = init.signedValue;
    this.#release = init.release;
    if (init.stored) {
      const { data, cookie, loaded, record } = init.stored;
      this.record = record;
      this.isNew = false;
      this.cookie = cookie;
      this.loaded = loaded;
      this.data = engine.binding.wrap(this, data);
    } else {
      this.isNew = true;
      this.cookie = new SessionCookie(defaults);
      this.data = engine.binding.wrap(this, {});
    }
  }

  /** True while the request holds the session lock. */
  get locked(): boolean {
    return this.#release !== undefined;
  }

  /** Frees the session lock, once. */
  release(): void {
    const r = this.#release;
    this.#release = undefined;
    r?.().catch(() => {});
  }

  /**
   * Gives the session a new id (against fixation): the old id is destroyed in the store. With
   * `keep`, the data moves to the new id; without, the session starts empty (express-session).
   */
  async regenerate(keep = false): Promise<void> {
    const engine = this.#engine;
    const old = this.isNew ? undefined : this.id;
    if (old !== undefined) {
      await engine.call(engine.store.destroy(old), 'destroy');
      engine.emitSession('destroyed', old, this.loaded?.user);
    }
    const data = keep && this.data ? engine.dataOf(this.data) : {};
    this.record = undefined;
    this.id = engine.options.genid(this.io.req);
    this.isNew = true;
    this.loaded = undefined;
    this.cookie = new SessionCookie(engine.options.cookie(this.io.req));
    this.data = engine.binding.wrap(this, data);
  }

  /** Removes the session from the store; the request goes on with none. */
  async destroy(clearCookie = false): Promise<void> {
    const engine = this.#engine;
    this.data = null;
    this.clearCookie ||= clearCookie;
    if (!this.isNew) {
      await engine.call(engine.store.destroy(this.id), 'destroy');
      engine.emitSession('destroyed', this.id, this.loaded?.user);
    }
    this.isNew = true;
    this.loaded = undefined;
  }

  /**
   * Logs `userId` in: a new id (against fixation, the data kept), the user under `userKey`, and
   * `meta` (at most 1 KB of JSON) recorded for `strategy.sessions.byUser()`.
   */
  async login(userId: string, options: LoginOptions = {}): Promise<void> {
    checkUserId(userId);
    const meta = checkMeta(options.meta);
    await this.regenerate(true);
    this.data![this.#engine.options.userKey] = userId;
    this.record = { createdAt: Date.now(), ...(meta && { meta }) };
  }

  /** Reads the session again from the store; rejects when it is gone. */
  async reload(): Promise<void> {
    const engine = this.#engine;
    const stored = await engine.read(this.id, engine.options.cookie(this.io.req));
    if (!stored) throw Object.assign(new Error('failed to load session'), { code: 'ENOENT' });
    const { data, cookie, loaded, record } = stored;
    this.record = record;
    this.isNew = false;
    this.cookie = cookie;
    this.loaded = loaded;
    this.data = engine.binding.wrap(this, data);
  }

  /** Writes the session now (express-session `save()`); the commit then writes only later changes. */
  async save(): Promise<void> {
    const engine = this.#engine;
    if (!this.data) return;
    const data = engine.dataOf(this.data);
    this.cookie.resetMaxAge();
    await engine.write(this, data, true);
    this.isNew = false;
    this.saved = true;
    this.loaded = { snapshot: snapshotSession(data), cookieShape: this.cookie.shape(), expiresAt: this.cookie.expires?.getTime(), legacy: [], user: userOf(data, engine.options.userKey) };
  }

  /** Finishes the request's session: sets the cookie now, then writes what must be written. Runs once. */
  commit(): Promise<void> {
    return (this.committed ??= this.#engine.commit(this));
  }

  /**
   * `commit()`, but `undefined` when it finished at once (see `SessionEngine.commitNow`): the
   * caller then goes on with no promise to wait for. Runs once.
   */
  commitNow(): Promise<void> | undefined {
    if (this.committed) return this.committed;
    const p = this.#engine.commitNow(this);
    this.committed = p ?? COMMITTED;
    return p;
  }
}
