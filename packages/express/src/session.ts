import type { IncomingMessage, ServerResponse } from 'node:http';
import { debuglog } from 'node:util';
import {
  isUnavailable,
  readCookies,
  SessionEngine,
  unavailableResponse,
  type LockOption,
  type ResolvedEngineOptions,
  type RequestIO,
  type SessionCookieOptions,
  type SessionState,
  type SessionStore,
  type Strategy,
} from '@scaleout/core';
import { CallbackStoreAdapter, isCallbackStore, type CallbackStore } from './callback-store.js';
import { attach, expressBinding } from './express-session-object.js';

const debug = debuglog('scaleout:express');

type Next = (err?: unknown) => void;
/** A connect-style middleware, as Express 4 and 5 take it. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

/** Options of {@link session}: express-session's own names, which override the strategy's config, plus scaleout's. */
export interface ScaleoutExpressOptions {
  /** The session cookie's name. @default the config's `session.cookieName` ("sid") */
  name?: string;
  /** express-session's deprecated alias of `name`; `name` wins when both are given. */
  key?: string;
  /** Secrets, newest first. @default the config's `secret` */
  secret?: string | string[];
  /** Cookie attributes, or a function of `req` returning them (express-session 1.19). */
  cookie?: SessionCookieOptions | ((req: IncomingMessage) => SessionCookieOptions);
  /** Makes a session id from `req`. @default 144 random bits */
  genid?: (req: IncomingMessage) => string;
  /** @default true (express-session: false) */
  rolling?: boolean;
  /** @default false */
  resave?: boolean;
  /** @default false (express-session: true) */
  saveUninitialized?: boolean;
  /** What `delete req.session` / `req.session = null` does. @default "keep" */
  unset?: 'keep' | 'destroy';
  /** Trust `X-Forwarded-Proto` for `secure` cookies: `true`, `false`, or Express's `trust proxy` when unset. */
  proxy?: boolean;
  /** Another store: a scaleout `SessionStore`, or an express-session `Store` (connect-redis, ...). @default the strategy's */
  store?: SessionStore | CallbackStore;
  /** While the store is down: 503 (`fail`) or no `req.session` (`bypass`). @default the config's `session.onStoreDown` */
  onStoreDown?: 'fail' | 'bypass';
  /** Serialize the requests of one session across all nodes (see `LockOption`). @default false */
  lock?: LockOption;
  /** Move an unchanged session's stored expiry at most this often. @default min(60 s, ttl / 10) */
  touchAfter?: number | string;
}

type Req = IncomingMessage & { session?: unknown; sessionID?: unknown; sessionStore?: SessionStore; secure?: boolean; originalUrl?: string; cookies?: Record<string, unknown>; signedCookies?: Record<string, unknown> };

const kHold = Symbol('scaleout.hold');

/** The engine's view of an Express request. */
class ExpressIO implements RequestIO {
  constructor(
    readonly req: Req,
    readonly res: ServerResponse,
    readonly proxy: boolean | undefined,
  ) {}
  cookieHeader(): string | undefined {
    return this.req.headers.cookie;
  }
  isSecure(): boolean {
    if ((this.req.socket as { encrypted?: boolean }).encrypted) return true;
    // Unset: Express's `req.secure` (its `trust proxy` setting), as express-session does.
    if (this.proxy === undefined) return this.req.secure === true;
    const proto = this.req.headers['x-forwarded-proto'];
    return this.proxy && typeof proto === 'string' && proto.split(',', 1)[0]!.trim().toLowerCase() === 'https';
  }
  socket(): { destroyed?: boolean } {
    return this.req.socket;
  }
  setCookie(line: string): void {
    this.res.appendHeader('set-cookie', line);
  }
}

interface Hold {
  state: SessionState;
  unset: 'keep' | 'destroy';
  end: ServerResponse['end'];
  writeHead: ServerResponse['writeHead'];
  /** The session middleware's `next`: a save error that is not an outage goes to the app's error handler. */
  next: Next;
  /** `end` was called and waits for the save: later calls are ignored (express-session does the same). */
  ending: boolean;
  /** The commit has started (at the head, or at `end`). */
  started: boolean;
  /** The rest of a commit that did not finish at once. */
  pending: Promise<void> | undefined;
}

function sendUnavailable(res: ServerResponse, err?: unknown): void {
  const r = unavailableResponse(err);
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.writeHead(r.status, r.headers).end(r.body);
}

// `delete req.session` (or `= null`) hands the session back to `unset`; a `req.sessionID` the
// app replaced with something that is not a string stops the save (as express-session).
// `undefined` when the save is done already (an in-process store saves at once).
function finish(h: Hold): Promise<void> | undefined {
  if (h.started) return h.pending;
  h.started = true;
  const { state } = h;
  const req = state.io.req as Req;
  if (!state.committed) {
    if (typeof req.sessionID !== 'string') state.data = null;
    else if (req.session !== state.data && state.data) {
      state.data = null;
      state.destroyOnCommit = h.unset === 'destroy';
    }
  }
  return (h.pending = state.commitNow());
}

type End = (this: ServerResponse, a?: unknown, b?: unknown, c?: unknown) => ServerResponse;

function failed(res: ServerResponse, h: Hold, err: unknown): void {
  debug('save failed: %s', (err as Error).message);
  res.writeHead = h.writeHead;
  res.end = h.end;
  if (res.headersSent) return void res.destroy();
  // An outage is answered here with its code; any other error is the app's to render.
  if (isUnavailable(err)) sendUnavailable(res, err);
  else h.next(err);
}

// The one interception point: the response is about to start. `end` waits for the save, so a
// failed save becomes a 503 before any byte leaves; a response that streams (`write` before
// `end`) starts the save with its head, and its last chunk waits for it, so a client never sees
// a clean end of a response whose save failed. (Fixed arities, no rest arrays: this runs on
// every response.)
function holdingEnd(this: ServerResponse, a?: unknown, b?: unknown, c?: unknown): ServerResponse {
  const h = (this as unknown as Record<symbol, Hold>)[kHold]!;
  if (h.ending) return this;
  h.ending = true;
  const end = h.end as End;
  const pending = finish(h);
  if (!pending) return end.call(this, a, b, c);
  pending.then(
    () => end.call(this, a, b, c),
    (err: unknown) => failed(this, h, err),
  );
  return this;
}

function startingHead(this: ServerResponse, a?: unknown, b?: unknown, c?: unknown): ServerResponse {
  const h = (this as unknown as Record<symbol, Hold>)[kHold]!;
  // Started here, the save's failure is seen by `end`, which waits for it.
  if (!h.started) finish(h)?.catch(() => {});
  return (h.writeHead as End).call(this, a, b, c);
}

/** The path the cookie is scoped to must prefix the request's, or the session is not used (RFC 6265 §5.1.4). */
function inScope(req: Req, path: string | undefined): boolean {
  if (!path || path === '/') return true;
  const url = req.originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  return (q < 0 ? url : url.slice(0, q)).startsWith(path);
}

/**
 * `req.session` for Express 4 and 5 over a scaleout strategy, with express-session's API.
 * Secure defaults: `resave: false`, `saveUninitialized: false`, `rolling: true`, HttpOnly,
 * SameSite=Lax, 144-bit ids. Differences from express-session, each on purpose: the save
 * finishes before the response goes out (a failed save is a 503, never a 200); a store that is
 * down or slow gives a 503 with a code; only the keys a request changed are saved; with the
 * `sticky` strategy, the route cookie is set too.
 */
export function session(strategy: Strategy, options: ScaleoutExpressOptions = {}): Middleware {
  const { store: given, key, proxy, ...rest } = options;
  const store = given === undefined ? strategy.store : isCallbackStore(given) ? new CallbackStoreAdapter(given) : given;
  const engine = new SessionEngine(strategy, { ...rest, name: rest.name ?? key } as never, expressBinding, store);
  const { onStoreDown } = engine.options;

  return function scaleoutSession(req: Req, res, next) {
    if (req.session) return next();
    if (!inScope(req, engine.options.cookie(req).path)) return next();
    const io = new ExpressIO(req, res, proxy);
    const cookies = readCookies(req.headers.cookie);
    engine.route(io, cookies);
    req.sessionStore = store;
    if (!engine.available) {
      debug('store down: %s', onStoreDown);
      if (onStoreDown === 'bypass') return next();
      engine.refused();
      return sendUnavailable(res);
    }
    // express-session's back-compat with cookie-parser: its signedCookies (verified by it) and cookies.
    const name = engine.options.name;
    const verified = cookies[name] === undefined && typeof req.signedCookies?.[name] === 'string' ? req.signedCookies[name] : undefined;
    if (cookies[name] === undefined && typeof req.cookies?.[name] === 'string') cookies[name] = req.cookies[name];
    // An in-process store opens the session at once, with no closure or promise per request;
    // any other is awaited.
    let state: SessionState | undefined;
    try {
      state = engine.openNow(io, cookies, verified);
    } catch (err) {
      return loadFailed(engine.options, res, next, err);
    }
    if (state) return opened(engine.options, req, res, next, state);
    engine.open(io, cookies, verified).then(
      (s) => opened(engine.options, req, res, next, s),
      (err: unknown) => loadFailed(engine.options, res, next, err),
    );
  };
}

/** Puts the session on `req`, holds the response until it is saved, and goes on with the request. */
function opened(o: ResolvedEngineOptions, req: Req, res: ServerResponse, next: Next, state: SessionState): void {
  attach(req, state);
  (res as unknown as Record<symbol, Hold>)[kHold] = { state, unset: o.unset, end: res.end, writeHead: res.writeHead, next, ending: false, started: false, pending: undefined };
  res.end = holdingEnd as ServerResponse['end'];
  res.writeHead = startingHead as ServerResponse['writeHead'];
  // A lock is freed when the save is done, or when the request ends without one.
  if (o.lock) res.once('close', () => state.release());
  next();
}

/** An outage or a lock timeout is answered here (or bypassed); any other error is the app's. */
function loadFailed(o: ResolvedEngineOptions, res: ServerResponse, next: Next, err: unknown): void {
  debug('load failed: %s', (err as Error).message);
  const code = (err as { code?: unknown })?.code;
  if (!isUnavailable(err) && code !== 'ERR_SCALEOUT_LOCK_TIMEOUT') return next(err);
  if (o.onStoreDown === 'bypass' && isUnavailable(err)) return next();
  sendUnavailable(res, err);
}
