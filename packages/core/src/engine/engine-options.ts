import { ConfigError } from '../errors.js';
import { parseDuration, type Duration } from '../duration.js';
import { generateSessionId } from '../session-id.js';
import { resolveLockOption, type LockOption } from '../session-lock.js';
import type { LockOptions, Strategy } from '../types.js';
import type { SessionCookieOptions } from './session-cookie.js';

/**
 * Options of the session engine, in the vocabulary both bindings translate into. Every field
 * defaults to the strategy's config (`session.*`); the bindings map express-session's and
 * koa-session's own option names onto these.
 */
export interface SessionEngineOptions {
  /** The session cookie's name. @default the config's `session.cookieName` ("sid") */
  name?: string;
  /** Secrets (strings or Buffers), newest first: the first signs, all verify. @default the config's `secret` */
  secret?: string | Buffer | (string | Buffer)[];
  /** Makes a new session id; gets the framework's request. @default 144 random bits, base64url */
  genid?: (req: unknown) => string;
  /** Cookie attributes, or a function of the request that returns them (express-session 1.19). */
  cookie?: SessionCookieOptions | ((req: unknown) => SessionCookieOptions);
  /** Send the cookie (with a new expiry) on every response. @default true */
  rolling?: boolean;
  /** koa-session's `renew`: save and re-send the cookie when less than half the lifetime is left. @default false */
  renew?: boolean;
  /** Save the session on every request, even unchanged. @default false */
  resave?: boolean;
  /** Save a new session that the request did not change. @default false */
  saveUninitialized?: boolean;
  /** What removing the session object does: `keep` the stored session, or `destroy` it. @default "keep" */
  unset?: 'keep' | 'destroy';
  /** Serialize the requests of one session (see `LockOption`). @default false */
  lock?: LockOption;
  /** While the store is down: a 503 (`fail`) or no session (`bypass`). @default the config's `session.onStoreDown` */
  onStoreDown?: 'fail' | 'bypass';
  /**
   * An unchanged session's stored expiry is moved at most this often: the store is written
   * only when the expiry it holds is at least this much older than the new one. A session can
   * so expire in the store up to this long before its cookie does.
   * @default the smaller of 60 s and a tenth of the lifetime
   */
  touchAfter?: Duration;
}

/** {@link SessionEngineOptions} resolved against a strategy. */
export interface ResolvedEngineOptions {
  /** The session cookie's name. */
  name: string;
  /** The secrets, newest first, as strings: the first signs, all verify. */
  secrets: string[];
  /** Makes a new session id from the framework's request. */
  genid: (req: unknown) => string;
  /** The cookie attributes for a request (a fixed `cookie` option becomes a function returning it). */
  cookie: (req: unknown) => SessionCookieOptions;
  /** Send the cookie with a new expiry on every response. */
  rolling: boolean;
  /** Save and re-send the cookie when less than half its lifetime is left (koa-session's `renew`). */
  renew: boolean;
  /** Save the session on every request, even unchanged. */
  resave: boolean;
  /** Save a new session that the request did not change. */
  saveUninitialized: boolean;
  /** What removing the session object does to the stored session. */
  unset: 'keep' | 'destroy';
  /** The per-session request lock, or `undefined` when requests of one session are not serialized. */
  lock: LockOptions | undefined;
  /** While the store is down: a 503 (`fail`) or no session (`bypass`). */
  onStoreDown: 'fail' | 'bypass';
  /** How often, at most, an unchanged session's stored expiry is moved, in ms; `undefined` writes it on every request. */
  touchAfterMs: number | undefined;
  /** Store lifetime of a browser-session cookie's session, and the default cookie lifetime. */
  ttlMs: number;
  /** How long a store call may take before the request gives up on it, in ms. */
  storeTimeoutMs: number;
  /** The session key that holds the user's id. */
  userKey: string;
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;

function flag(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(field, `session option ${field}: expected true or false, got ${typeof value}`);
  return value;
}

/** `base` with the attributes `given` sets (an attribute given as `undefined` keeps the default). */
function over(base: SessionCookieOptions, given: SessionCookieOptions | undefined): SessionCookieOptions {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(given ?? {})) if (v !== undefined) out[k] = v;
  return out as SessionCookieOptions;
}

/** Resolves and checks engine options; a bad value throws a `ConfigError` naming the option. */
export function resolveEngineOptions(strategy: Strategy, o: SessionEngineOptions): ResolvedEngineOptions {
  const s = strategy.session;
  const name = o.name ?? s.cookieName;
  if (typeof name !== 'string' || !COOKIE_NAME.test(name) || name in Object.prototype) {
    throw new ConfigError('name', `session option name: expected an RFC 6265 cookie name (a token of 1 to 64 characters), got ${JSON.stringify(String(name)).slice(0, 80)}`);
  }
  // Messages as express-session words them, so apps and tests that match them keep working.
  const secrets = o.secret === undefined ? s.secret : ([] as unknown[]).concat(o.secret);
  if (secrets.length === 0) throw new ConfigError('secret', 'secret option array must contain one or more strings (newest first)');
  if (!secrets.every((x) => (typeof x === 'string' && x.length > 0) || (Buffer.isBuffer(x) && x.length > 0))) {
    throw new ConfigError('secret', 'secret option must be a non-empty string or Buffer, or an array of them (newest first)');
  }
  if (o.genid !== undefined && typeof o.genid !== 'function') throw new ConfigError('genid', 'genid option must be a function');
  if (o.unset !== undefined && o.unset !== 'keep' && o.unset !== 'destroy') throw new ConfigError('unset', `unset option must be "destroy" or "keep", got ${JSON.stringify(o.unset)}`);
  const base: SessionCookieOptions = { maxAge: s.ttlMs, httpOnly: true, secure: s.secure, sameSite: s.sameSite, path: '/' };
  const given = o.cookie;
  if (given !== undefined && (given === null || (typeof given !== 'object' && typeof given !== 'function'))) {
    throw new ConfigError('cookie', 'session option cookie: expected an object of cookie attributes, or a function of the request that returns one');
  }
  // Read on every request, as express-session does: an app that changes its cookie options
  // object after set-up (a maxAge from a feature flag) sees the change.
  const cookie = typeof given === 'function' ? (req: unknown) => over(base, given(req)) : typeof given === 'object' ? () => over(base, given) : () => base;
  const touchAfterMs = o.touchAfter === undefined ? undefined : parseDuration(o.touchAfter, 'touchAfter');
  return {
    name,
    secrets: secrets as string[],
    genid: o.genid ?? (() => generateSessionId()),
    cookie,
    rolling: flag(o.rolling, 'rolling', true),
    renew: flag(o.renew, 'renew', false),
    resave: flag(o.resave, 'resave', false),
    saveUninitialized: flag(o.saveUninitialized, 'saveUninitialized', false),
    unset: o.unset ?? 'keep',
    lock: resolveLockOption(o.lock, strategy.store, strategy.kind),
    onStoreDown: o.onStoreDown ?? s.onStoreDown,
    touchAfterMs,
    ttlMs: s.ttlMs,
    storeTimeoutMs: s.storeTimeoutMs,
    userKey: s.userKey ?? 'userId',
  };
}

/** How long an unchanged session's stored expiry may lag before it is written again. */
export function touchAfterFor(options: ResolvedEngineOptions, lifetimeMs: number): number {
  return options.touchAfterMs ?? Math.min(60_000, Math.floor(lifetimeMs / 10));
}
