import { debuglog } from 'node:util';
import type Koa from 'koa';
import createSession from 'koa-session';
import {
  canPersist,
  cookieOptions,
  generateSessionId,
  isUnavailable,
  parseCookies,
  routeSetCookie,
  signSessionId,
  unavailableResponse,
  unsignSessionId,
  resolveLockOption,
  type LockOption,
  type Strategy,
} from '@scaleout/core';
import { koaSessionStore, skipStoring } from './koa-session-store.js';

const debug = debuglog('scaleout:koa');

/** Options of {@link session}: koa-session's own, which override the strategy's config, plus these. */
export interface ScaleoutKoaOptions extends Record<string, unknown> {
  /**
   * While the store is down: `fail` answers 503 with `ERR_SCALEOUT_STORE_UNAVAILABLE`;
   * `bypass` runs the next middleware with no session.
   * @default the config's `session.onStoreDown` ("fail")
   */
  onStoreDown?: 'fail' | 'bypass';
  /**
   * Serialize the requests of one session across all nodes (see `@scaleout/express`'s `lock`):
   * held from load to save, expiring after `ttl`, waited for at most `wait` (then a 503 with
   * `ERR_SCALEOUT_LOCK_TIMEOUT`).
   * @default false
   */
  lock?: LockOption;
}

// koa-session defines `ctx.session` as a getter that makes an empty session on demand; a
// bypassed request must see no session at all, as in Express.
function withoutSession(ctx: Koa.Context, next: Koa.Next): Promise<unknown> {
  Object.defineProperty(ctx, 'session', { value: null, configurable: true, writable: true });
  return next();
}

// express-session URL-encodes its cookie value (cookie.serialize); the Cookies module does not.
function decodeCookieValue(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

function answerUnavailable(ctx: Koa.Context, err?: unknown): void {
  const r = unavailableResponse(err);
  ctx.remove('set-cookie');
  ctx.status = r.status;
  ctx.set(r.headers);
  ctx.body = r.body;
}

/**
 * koa-session wired to a scaleout strategy, with the same behaviour as `@scaleout/express`:
 * the same signed cookie format (so Express and Koa nodes of one fleet share sessions), secure
 * defaults, the route cookie for `sticky`, a 503 when the store is down or a save fails.
 */
export function session(strategy: Strategy, app: Koa, options: ScaleoutKoaOptions = {}): Koa.Middleware {
  const settings = strategy.session;
  const { onStoreDown = settings.onStoreDown, lock, ...koaOptions } = options;
  const locking = resolveLockOption(lock, strategy.store, strategy.kind);
  const name = (koaOptions.key as string | undefined) ?? settings.cookieName;
  const inner = createSession(
    {
      key: name,
      maxAge: settings.ttlMs,
      httpOnly: true,
      signed: false,
      sameSite: settings.sameSite,
      renew: true,
      store: koaSessionStore(strategy.store, { timeoutMs: settings.storeTimeoutMs, ttlMs: settings.ttlMs }),
      genid: () => generateSessionId(),
      // express-session's cookie format (`s:<id>.<hmac>`), verified under every secret.
      externalKey: {
        get: (ctx: Koa.Context) => unsignSessionId(decodeCookieValue(ctx.cookies.get(name, { signed: false })), settings.secret) as string,
        set: (ctx: Koa.Context, key: string) => {
          // Cookies refuses a Secure cookie on plain HTTP; such a session is not stored either.
          if (!canPersist(settings, ctx.secure)) return;
          // The cookie lives as long as koa-session's `maxAge` says (`ctx.session.maxAge` or the
          // option); `'session'` (left undefined by koa-session) makes a browser-session cookie.
          const maxAge = (ctx as { sessionOptions?: { maxAge?: unknown } }).sessionOptions?.maxAge;
          ctx.cookies.set(name, encodeURIComponent(signSessionId(key, settings.secret)), {
            ...cookieOptions(settings, ctx.secure),
            // Cookies reads a maxAge of 0 as "no expiry": an ended session gets a past date.
            ...(typeof maxAge === 'number' ? (maxAge > 0 ? { maxAge } : { expires: new Date(0) }) : {}),
            signed: false,
            overwrite: true,
          });
        },
      },
      ...koaOptions,
    } as Parameters<typeof createSession>[0],
    app,
  ) as Koa.Middleware;
  const route = strategy.route;

  return async function scaleoutSession(ctx, next) {
    if (route) {
      const setCookie = routeSetCookie(route, parseCookies(ctx.get('cookie') || undefined), settings, ctx.secure);
      if (setCookie) ctx.append('set-cookie', setCookie);
    }
    if (!canPersist(settings, ctx.secure)) skipStoring(ctx);
    if (strategy.store.available === false) {
      debug('store down: %s', onStoreDown);
      if (onStoreDown === 'bypass') return withoutSession(ctx, next);
      return answerUnavailable(ctx);
    }
    let entered = false;
    let release: (() => Promise<void>) | undefined;
    try {
      const id = locking && unsignSessionId(decodeCookieValue(ctx.cookies.get(name, { signed: false })), settings.secret);
      if (id) release = await strategy.store.lock!(id, locking);
      await inner(ctx, () => {
        entered = true;
        return next();
      });
    } catch (err) {
      if (!(isUnavailable(err) || (err as { code?: unknown }).code === 'ERR_SCALEOUT_LOCK_TIMEOUT') || ctx.headerSent) throw err;
      debug('store error: %s', (err as Error).message);
      // A load that failed before the app ran may bypass; a failed save never reaches the client as success.
      if (onStoreDown === 'bypass' && !entered && isUnavailable(err)) return withoutSession(ctx, next);
      answerUnavailable(ctx, err);
    } finally {
      await release?.().catch((err: unknown) => debug('lock release failed: %s', (err as Error).message));
    }
  };
}
