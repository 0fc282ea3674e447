import type { SessionData } from '../types.js';
import { snapshotSession } from '../session-patch.js';
import { SESSION_RECORD_KEY, type SessionRecord } from '../session-directory.js';
import { userOf } from '../user-index.js';
import { SessionCookie, type SessionCookieOptions } from './session-cookie.js';
import type { Inflated } from './session-state.js';

// Bookkeeping that koa-session (and 0.1 Koa nodes) stored beside the data; read into the cookie.
const LEGACY_KEYS = ['_expire', '_maxAge', '_session'] as const;

/** Splits a stored session into data, cookie and what the request must compare against. */
export function inflateSession(stored: SessionData, defaults: SessionCookieOptions, userKey: string): Inflated {
  const data: SessionData = {};
  const legacy: string[] = [];
  for (const k of Object.keys(stored)) {
    if (k === 'cookie' || k === SESSION_RECORD_KEY) continue;
    if ((LEGACY_KEYS as readonly string[]).includes(k)) legacy.push(k);
    else data[k] = stored[k];
  }
  let cookieRecord = stored.cookie;
  if (cookieRecord === undefined && legacy.length) {
    const maxAge = stored._session === true ? null : typeof stored._maxAge === 'number' ? stored._maxAge : undefined;
    const at = typeof stored._expire === 'number' ? new Date(stored._expire).toISOString() : null;
    if (maxAge !== undefined) cookieRecord = { originalMaxAge: maxAge, expires: maxAge === null ? null : at };
  }
  const cookie = cookieRecord === undefined ? new SessionCookie(defaults) : SessionCookie.from(cookieRecord, defaults);
  // koa-session's `_expire` counts too when a cookie record says nothing (a browser-session cookie).
  const expiresAt = cookie.expires?.getTime() ?? (cookieRecord === undefined && typeof stored._expire === 'number' ? stored._expire : undefined);
  const own = stored[SESSION_RECORD_KEY] as SessionRecord | undefined;
  const record = own !== null && typeof own === 'object' && typeof own.createdAt === 'number' ? own : undefined;
  return { data, cookie, record, loaded: { snapshot: snapshotSession(data), cookieShape: cookie.shape(), expiresAt, legacy, user: userOf(data, userKey) } };
}

/** Whether a loaded session is still live by its own record (its cookie's expiry). */
export function isLive(inflated: Inflated): boolean {
  const expiresAt = inflated.loaded.expiresAt;
  return expiresAt === undefined || expiresAt > Date.now();
}
