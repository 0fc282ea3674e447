import { debuglog } from 'node:util';
import type Koa from 'koa';
import { generateSessionId, isUnavailable, readCookies, type CookieFields, SessionEngine, unavailableResponse, type LockOption, type RequestIO, type SameSite, type SessionData, type SessionState, type Strategy } from '@scaleout/core';
import { kState, koaBinding } from './koa-session-object.js';

const debug = debuglog('scaleout:koa');

/** Options of {@link session}: koa-session's own names, which override the strategy's config, plus scaleout's. */
export interface ScaleoutKoaOptions {
  /** The session cookie's name. @default the config's `session.cookieName` ("sid") */
  key?: string;
  /** Lifetime in ms, or `'session'` for a browser-session cookie. @default the config's `session.ttl` */
  maxAge?: number | 'session';
  /** Send the cookie on every response. @default true (koa-session: false) */
  rolling?: boolean;
  /** Save and re-send the cookie when less than half the lifetime is left. @default false */
  renew?: boolean;
  /** @default true */
  httpOnly?: boolean;
  /** koa-session signs with Keygrip when true; scaleout always signs its cookie (HMAC, rotation), so this is accepted and ignored. */
  signed?: boolean;
  /** @default the config's `session.secure` */
  secure?: boolean;
  /** @default the config's `session.sameSite` */
  sameSite?: SameSite;
  /** The cookie's `Domain` attribute; absent, the cookie goes back only to the host that set it. */
  domain?: string;
  /** @default "/" */
  path?: string;
  /** Commit when the middleware chain returns; `false`: the app calls `ctx.session.manuallyCommit()`. @default true */
  autoCommit?: boolean;
  /** Makes a session id from `ctx`. @default 144 random bits */
  genid?: (ctx: Koa.Context) => string;
  /** Put before every generated id (koa-session's `prefix`). */
  prefix?: string;
  /** koa-session's `valid(ctx, session)`: a loaded session it refuses is replaced by a new one. */
  valid?: (ctx: Koa.Context, session: SessionData) => boolean;
  /** koa-session's `beforeSave(ctx, session)`: called before the session is committed. */
  beforeSave?: (ctx: Koa.Context, session: SessionData) => void;
  /** While the store is down: 503 (`fail`) or `ctx.session === null` (`bypass`). @default the config's `session.onStoreDown` */
  onStoreDown?: 'fail' | 'bypass';
  /** Serialize the requests of one session across all nodes (see `LockOption`). @default false */
  lock?: LockOption;
  /** Move an unchanged session's stored expiry at most this often. @default min(60 s, ttl / 10) */
  touchAfter?: number | string;
}

type Ctx = Koa.Context & { [kState]?: SessionState | null };

/** The engine's view of a Koa request. */
class KoaIO implements RequestIO {
  constructor(readonly req: Koa.Context) {}
  cookieHeader(): string | undefined {
    return this.req.headers.cookie;
  }
  isSecure(): boolean {
    return this.req.secure;
  }
  socket(): { destroyed?: boolean } {
    return this.req.req.socket;
  }
  setCookie(line: string): void {
    this.req.append('Set-Cookie', line);
  }
  setCookieFields(name: string, value: string, f: CookieFields): void {
    // Koa's own cookie writer, as koa-session uses it; the value is signed by the engine already.
    this.req.cookies.set(name, encodeURIComponent(value), { ...f, sameSite: f.sameSite === true ? 'strict' : f.sameSite, signed: false, overwrite: true });
  }
}

function answerUnavailable(ctx: Koa.Context, err?: unknown): void {
  const r = unavailableResponse(err);
  ctx.remove('set-cookie');
  ctx.status = r.status;
  ctx.set(r.headers);
  ctx.body = r.body;
}

const defined = new WeakSet<object>();

// `ctx.session` on every context of the app, as koa-session defines it: `null` without a session,
// `= null` destroys it (and clears the cookie), `= {...}` replaces its data.
function defineSession(app: Koa): void {
  if (defined.has(app.context)) return;
  defined.add(app.context);
  Object.defineProperty(app.context, 'session', {
    configurable: true,
    get(this: Ctx) {
      return this[kState]?.data ?? null;
    },
    set(this: Ctx, value: unknown) {
      const state = this[kState];
      if (!state) return;
      if (value === null || value === undefined) {
        state.data = null;
        state.clearCookie = true;
        state.destroyOnCommit = true;
      } else if (typeof value === 'object') {
        state.data = koaBinding.wrap(state, value as SessionData);
      } else {
        throw new TypeError('ctx.session can only be set as null or an object');
      }
    },
  });
}

/**
 * `ctx.session` for Koa 2 and 3 over a scaleout strategy, with koa-session's API for an external
 * store and the same behaviour as `@scaleout/express`: one cookie format (an Express and Koa
 * fleet shares sessions), secure defaults, the route cookie of `sticky`, the save finished before
 * the response, and a 503 when the store is down or a save fails.
 */
export function session(strategy: Strategy, app: Koa, options: ScaleoutKoaOptions = {}): Koa.Middleware {
  const { key, maxAge, httpOnly, secure, sameSite, domain, path, genid, prefix = '', autoCommit = true, signed: _signed, valid, beforeSave, ...rest } = options;
  const engine = new SessionEngine(
    strategy,
    {
      ...rest,
      name: key,
      genid: genid ? (ctx) => prefix + genid(ctx as Koa.Context) : prefix ? () => prefix + generateSessionId() : undefined,
      cookie: { ...(maxAge !== undefined && { maxAge: maxAge === 'session' ? null : maxAge }), httpOnly, secure, sameSite, domain, path },
    },
    koaBinding,
  );
  const { onStoreDown } = engine.options;
  defineSession(app);

  return async function scaleoutSession(ctx: Ctx, next) {
    const io = new KoaIO(ctx);
    const cookies = readCookies(ctx.headers.cookie);
    engine.route(io, cookies);
    if (!engine.available) {
      debug('store down: %s', onStoreDown);
      if (onStoreDown === 'bypass') return next();
      engine.refused();
      return answerUnavailable(ctx);
    }
    let state: SessionState;
    try {
      // An in-process store opens the session at once; any other is awaited.
      state = engine.openNow(io, cookies) ?? (await engine.open(io, cookies));
    } catch (err) {
      const code = (err as { code?: unknown })?.code;
      if (!isUnavailable(err) && code !== 'ERR_SCALEOUT_LOCK_TIMEOUT') throw err;
      debug('load failed: %s', (err as Error).message);
      if (onStoreDown === 'bypass' && isUnavailable(err)) return next();
      return answerUnavailable(ctx, err);
    }
    if (valid && state.data && !state.isNew && !valid(ctx, state.data)) {
      // koa-session's `valid`: a session the app does not accept is replaced by a new one.
      debug('session refused by the valid option');
      await state.regenerate(false);
    }
    ctx[kState] = state;
    let failure: unknown;
    try {
      await next();
    } catch (err) {
      // As koa-session: a session changed before an error that an upstream middleware catches is still saved.
      failure = err;
    }
    try {
      if (autoCommit) {
        if (beforeSave && state.data) beforeSave(ctx, state.data);
        const pending = state.commitNow();
        if (pending) await pending;
      }
    } catch (err) {
      // A failed save never reaches the client as a success.
      if (failure !== undefined || !isUnavailable(err) || ctx.headerSent) throw failure ?? err;
      debug('save failed: %s', (err as Error).message);
      answerUnavailable(ctx, err);
    } finally {
      state.release();
    }
    if (failure !== undefined) throw failure;
  };
}
