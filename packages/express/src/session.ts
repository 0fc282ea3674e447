import type { IncomingMessage, ServerResponse } from 'node:http';
import { debuglog } from 'node:util';
import expressSession, { type SessionOptions } from 'express-session';
import {
  canPersist,
  dropCookie,
  MAX_COOKIE_HEADER,
  generateSessionId,
  isUnavailable,
  parseCookies,
  routeSetCookie,
  snapshotSession,
  unavailableResponse,
  unsignSessionId,
  resolveLockOption,
  type LockOption,
  type Strategy,
} from '@scaleout/core';
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
  /**
   * Serialize the requests of one session across all nodes, for apps whose concurrent requests
   * change the same key (a counter). The lock is held from load to save, expires after `ttl`
   * (a dead holder frees it), and a request that cannot have it within `wait` gets a 503 with
   * `ERR_SCALEOUT_LOCK_TIMEOUT`. Requests that change different keys need no lock: only
   * changed keys are saved.
   * @default false
   */
  lock?: LockOption;
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
  const { onStoreDown = settings.onStoreDown, lock, ...sessionOptions } = options;
  const locking = resolveLockOption(lock, strategy.store, strategy.kind);
  const cookieName = sessionOptions.name ?? settings.cookieName;
  const secrets = (sessionOptions.secret === undefined ? settings.secret : ([] as unknown[]).concat(sessionOptions.secret)) as string[];
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

  function run(req: IncomingMessage, res: ServerResponse, next: Next, tracker: SaveTracker): void {
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
      const id = (req as { sessionID?: string }).sessionID;
      const raw = id && store instanceof ExpressSessionStore ? store.loadedNow(id) : undefined;
      if (id && raw) tracker.loaded = { id, fields: snapshotSession(raw, ['cookie']) };
      next();
    });
  }

  return function scaleoutSession(req, res, next) {
    const cookies = parseCookies(req.headers.cookie);
    if (route) {
      const setCookie = routeSetCookie(route, cookies, settings, isSecure(req));
      if (setCookie) res.appendHeader('set-cookie', setCookie);
    }
    if (strategy.store.available === false) {
      debug('store down: %s', onStoreDown);
      if (onStoreDown === 'bypass') return next();
      return sendUnavailable(res);
    }
    const raw = cookies[cookieName];
    const id = unsignSessionId(raw, secrets);
    // Verified here in constant time (cookie-signature 1.2), so the older copy that
    // express-session pins (which compares with ==) only ever sees values that already verified.
    // An oversized header is not parsed (raw is undefined), so it is judged on its text.
    const header = req.headers.cookie;
    if (header && id === undefined && (raw !== undefined || (header.length > MAX_COOKIE_HEADER && header.includes(`${cookieName}=`)))) {
      req.headers.cookie = dropCookie(header, cookieName);
    }
    const tracker = new SaveTracker(req, res, sendUnavailable);
    if (!canPersist(settings, isSecure(req))) tracker.noStore = true;
    if (!locking) return run(req, res, next, tracker);
    if (!id) return run(req, res, next, tracker);
    strategy.store.lock!(id, locking).then(
      (release) => {
        let released = false;
        const free = () => {
          if (released) return;
          released = true;
          release().catch((err: unknown) => debug('lock release failed: %s', (err as Error).message));
        };
        // Freed once the save is done, not when the client leaves: a handler that outlives its
        // client still saves, and must hold the lock until then (its ttl bounds a handler that
        // never ends).
        tracker.onSettled = free;
        run(req, res, next, tracker);
      },
      (err: unknown) => {
        if (res.headersSent) return;
        sendUnavailable(res, err);
      },
    );
  };
}
