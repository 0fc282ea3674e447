import { serialize, parse, type CookieSerializeOptions as SerializeOptions } from 'cookie';
import { sign, unsign } from 'cookie-signature';
import { isUnavailable, ErrorCodes, type ScaleoutError } from './errors.js';
import type { SessionSettings } from './types.js';
import type { RouteCookie } from './route-cookie.js';

// Framework-free HTTP pieces shared by the Express and Koa layers, so both behave the same.

/** Longest Cookie header read; a larger one is ignored (the request goes on with a fresh session). */
export const MAX_COOKIE_HEADER = 16 * 1024;

/** Parses a Cookie header; oversized or garbled input gives an empty object, never a throw. */
export function parseCookies(header: string | undefined): Record<string, string | undefined> {
  // A null-prototype object: a cookie named `constructor` or `__proto__` must read as absent.
  const out = Object.create(null) as Record<string, string | undefined>;
  if (!header || header.length > MAX_COOKIE_HEADER) return out;
  try {
    return Object.assign(out, parse(header));
  } catch {
    return out;
  }
}

/** The Cookie header without the pairs named `name`, or `undefined` when nothing is left. */
export function dropCookie(header: string, name: string): string | undefined {
  const kept = header
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '' && pair.split('=', 1)[0]!.trim() !== name);
  return kept.length ? kept.join('; ') : undefined;
}

/**
 * Signs a session id as express-session does (`s:` + id + `.` + HMAC-SHA256), so Express and
 * Koa nodes of one fleet read each other's cookies.
 */
export function signSessionId(id: string, secret: string[]): string {
  return 's:' + sign(id, secret[0]!);
}

/**
 * The session id in a signed cookie value, verified in constant time under each secret in turn,
 * with whether the newest secret signed it (`current`), or `undefined` if none verifies it.
 */
export function verifySessionId(value: string | undefined, secret: readonly string[]): {
  /** The session id. */
  id: string;
  /** Signed with the newest secret (no re-signing needed). */
  current: boolean;
} | undefined {
  if (typeof value !== 'string' || !value.startsWith('s:') || value.length > 512) return undefined;
  const body = value.slice(2);
  for (let i = 0; i < secret.length; i++) {
    const id = unsign(body, secret[i]!);
    if (id !== false) return { id, current: i === 0 };
  }
  return undefined;
}

/** The session id in a signed cookie value, or `undefined` if any secret fails to verify it. */
export function unsignSessionId(value: string | undefined, secret: string[]): string | undefined {
  return verifySessionId(value, secret)?.id;
}

/** Cookie attributes from the session settings (RFC 6265 §4.1.2; HttpOnly and SameSite=Lax by default). */
export function cookieOptions(settings: SessionSettings, secureRequest: boolean): SerializeOptions {
  return {
    path: '/',
    httpOnly: true,
    sameSite: settings.sameSite,
    secure: settings.secure === 'auto' ? secureRequest : settings.secure,
  };
}

/** The `Set-Cookie` value for a node's route cookie, or `undefined` when the client's is current. */
export function routeSetCookie(route: RouteCookie, cookies: Record<string, string | undefined>, settings: SessionSettings, secureRequest: boolean): string | undefined {
  const current = cookies[route.name];
  if (!route.needsSet(current)) return undefined;
  return serialize(route.name, route.value, cookieOptions(settings, secureRequest));
}

/** A session cookie's record as express-session keeps it (a `Cookie`, or its stored JSON). */
export interface CookieRecord {
  /** When the cookie expires: a `Date`, its ISO 8601 string, or `null`/`false` for a browser-session cookie. */
  expires?: Date | string | null | false;
  /** Milliseconds left, as express-session's `Cookie.maxAge`. */
  maxAge?: number | null;
  /** The lifetime the cookie was given, in ms; `null` for a browser-session cookie. */
  originalMaxAge?: number | null;
}

/**
 * Milliseconds a session has left by its cookie: until `expires` when the cookie has one (the
 * cookie's own clock, as express-session's MemoryStore and connect-redis read it), else its
 * `maxAge`, else `fallbackMs` (a browser-session cookie). Zero or less means the session has
 * expired: the app ended it (`cookie.maxAge = 0` at logout) and it must be deleted, not kept.
 */
export function cookieLifetime(cookie: CookieRecord | null | undefined, fallbackMs: number, now = Date.now()): number {
  if (!cookie || typeof cookie !== 'object') return fallbackMs;
  const expires = cookie.expires;
  if (expires instanceof Date || typeof expires === 'string') {
    const at = new Date(expires).getTime();
    if (Number.isFinite(at)) return at - now;
  }
  const maxAge = cookie.maxAge;
  if (typeof maxAge === 'number' && Number.isFinite(maxAge)) return maxAge;
  return fallbackMs;
}

/**
 * True when a stored session has expired by its own record, whichever framework wrote it:
 * express-session's `cookie.expires` or koa-session's `_expire` is in the past. Such a session
 * reads as none, and is deleted, even while the backend still holds it.
 */
export function sessionExpired(data: Record<string, unknown>, now = Date.now()): boolean {
  if (typeof data._expire === 'number' && data._expire <= now) return true;
  const cookie = data.cookie;
  return cookie !== null && typeof cookie === 'object' && cookieLifetime(cookie as CookieRecord, 1, now) <= 0;
}

/** The answer a request gets when the session backend cannot serve it. */
export interface UnavailableResponse {
  /** Always 503 Service Unavailable. */
  status: 503;
  /** Content type and length, `Retry-After`, `Cache-Control: no-store`. */
  headers: Record<string, string>;
  /** JSON: `{ "error": <code>, "message": ... }`. */
  body: string;
}

/** Builds the 503 for `err` (or a down store): a short JSON body with the error code, never the cause's details. */
export function unavailableResponse(err?: ScaleoutError | unknown): UnavailableResponse {
  const code = err && isUnavailable(err) ? err.code : (err as ScaleoutError | undefined)?.code ?? ErrorCodes.STORE_UNAVAILABLE;
  const body = JSON.stringify({ error: code, message: 'the session store is unavailable; retry shortly' });
  return {
    status: 503,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'retry-after': '1',
      'cache-control': 'no-store',
    },
    body,
  };
}

/** Keys a framework adds to the stored session that the other framework must not take as data. */
const FOREIGN_KEYS: Record<'express' | 'koa', readonly string[]> = {
  express: ['_expire', '_maxAge', '_session'],
  koa: ['cookie'],
};

/** Removes the other framework's bookkeeping from a stored session (so a mixed Express/Koa fleet shares sessions). */
export function withoutForeignKeys<T extends Record<string, unknown>>(data: T, reader: 'express' | 'koa'): T {
  const keys = FOREIGN_KEYS[reader];
  if (!keys.some((k) => k in data)) return data;
  const out = { ...data };
  for (const k of keys) delete out[k];
  return out;
}

/**
 * True when the client of a request has gone (its connection is closed), so that a save computed
 * from what the request read long ago must not overwrite updates acknowledged since. For a
 * network store one turn of the event loop passes first, so that a close already queued is seen:
 * a process that was frozen (SIGSTOP, a long GC or VM pause) runs its due timers, and so the
 * save, before it reads the close its balancer sent meanwhile.
 */
export async function clientLeft(store: { readonly local?: boolean }, socket: { readonly destroyed?: boolean } | undefined): Promise<boolean> {
  if (!store.local) await new Promise<void>((resolve) => setImmediate(resolve));
  return socket?.destroyed === true;
}
