import type { IncomingMessage, ServerResponse } from 'node:http';
import { debuglog } from 'node:util';
import expressSession, { type SessionOptions } from 'express-session';
import { generateSessionId, isUnavailable, routeSetCookie, unavailableResponse, type Strategy } from '@scaleout/core';
import { ExpressSessionStore } from './express-session-store.js';
import { SaveTracker } from './save-tracker.js';

const debug = debuglog('scaleout:express');

type Next = (err?: unknown) => void;
/** A connect-style middleware, as Express 4 and 5 take it. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

/** Options of {@link session}: express-session's own, which override the strategy's config, plus these. */
export interface ScaleoutExpressOptions extends Partial<SessionOptions> {
  /**
   * While the store is down: `fail` answers 503 with `ERR_SCALEOUT_STORE_UNAVAILABLE`;
   * `bypass` calls the next handler with no `req.session` (express-session's own behaviour).
   * @default the config's `session.onStoreDown` ("fail")
   */
  onStoreDown?: 'fail' | 'bypass';
}

function isSecure(req: IncomingMessage): boolean {
  return Boolean((req.socket as { encrypted?: boolean }).encrypted) || (req as { secure?: boolean }).secure === true;
}

function sendUnavailable(res: ServerResponse, err?: unknown): void {
  const r = unavailableResponse(err);
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.writeHead(r.status, r.headers);
  res.end(r.body);
}

/**
 * express-session wired to a scaleout strategy. Secure defaults: `resave: false`,
 * `saveUninitialized: false`, HttpOnly, SameSite=Lax, ids of 144 random bits, sliding expiry
 * (`rolling`). Differences from express-session alone, each on purpose:
 *
 * - the save finishes before the response goes out, and a failed save is a 503, not a 200;
 * - a store that is down or slow gives a 503 with a coded body, never a hang;
 * - with the `sticky` strategy, the route cookie that pins the client to this node is set.
 */
export function session(strategy: Strategy, options: ScaleoutExpressOptions = {}): Middleware {
  const settings = strategy.session;
  const { onStoreDown = settings.onStoreDown, ...sessionOptions } = options;
  const store = (sessionOptions.store as ExpressSessionStore | undefined) ?? new ExpressSessionStore(strategy.store, { timeoutMs: settings.storeTimeoutMs, ttlMs: settings.ttlMs });
  const inner = expressSession({
    secret: settings.secret,
    name: settings.cookieName,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    genid: () => generateSessionId(),
    ...sessionOptions,
    store,
    cookie: {
      httpOnly: true,
      sameSite: settings.sameSite,
      secure: settings.secure,
      maxAge: settings.ttlMs,
      path: '/',
      ...sessionOptions.cookie,
    },
  }) as unknown as Middleware;
  const route = strategy.route;

  return function scaleoutSession(req, res, next) {
    if (route) {
      const setCookie = routeSetCookie(route, req.headers.cookie, settings, isSecure(req));
      if (setCookie) res.appendHeader('set-cookie', setCookie);
    }
    if (strategy.store.available === false) {
      debug('store down: %s', onStoreDown);
      if (onStoreDown === 'bypass') return next();
      return sendUnavailable(res);
    }
    const tracker = new SaveTracker(req, res, sendUnavailable);
    let continued = false;
    inner(req, res, (err) => {
      if (err !== undefined && err !== null) {
        // After the tracker answered 503, express-session still reports the save error.
        if (tracker.answered) return;
        if (isUnavailable(err)) {
          debug('store error: %s', (err as Error).message);
          if (res.headersSent) return;
          if (onStoreDown === 'bypass' && !continued) {
            continued = true;
            return next();
          }
          return sendUnavailable(res, err);
        }
        return next(err);
      }
      if (continued) return;
      continued = true;
      next();
    });
  };
}
