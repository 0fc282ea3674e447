import { serialize } from 'cookie';
import { signSessionId } from '../http.js';
import { diffSession, type SessionPatch } from '../session-patch.js';
import type { SessionData } from '../types.js';
import { touchAfterFor } from './engine-options.js';
import type { SessionCookie } from './session-cookie.js';
import type { SessionEngine } from './session-engine.js';
import type { RequestIO, SessionState } from './session-state.js';

/**
 * What a commit leaves for the store once the cookie is set: nothing (`undefined`), the
 * destroy the app asked for, the removal of a session ended by its lifetime, a write of the
 * session (its changes, when `patch` is given), or a touch of its expiry.
 */
export type StoreWork =
  | undefined
  | { op: 'destroyState' }
  | { op: 'destroy' }
  | { op: 'write'; data: SessionData; patch: SessionPatch | undefined }
  | { op: 'touch'; data: SessionData };

const DESTROY_STATE: StoreWork = { op: 'destroyState' };
const DESTROY: StoreWork = { op: 'destroy' };

/** Decides what a commit does: sets or clears the cookie now, and returns what is left for the store. */
export function planCommit(engine: SessionEngine, state: SessionState): StoreWork {
  const o = engine.options;
  const io = state.io;
  const cookie = state.cookie;
  // Whether the request came over TLS is asked only when the cookie depends on it.
  const secure = cookie.dependsOnTls && io.isSecure();
  if (state.data === null) {
    if (state.clearCookie) io.setCookie(expiredCookie(o.name, cookie, secure));
    if (!state.destroyOnCommit) return undefined;
    state.outcome = 'saved';
    return DESTROY_STATE;
  }
  if (cookie.originalMaxAge !== null && cookie.originalMaxAge <= 0) {
    // The app ended the session by its lifetime (`cookie.maxAge = 0` at logout, an `expires`
    // in the past): delete it, and send its cookie already expired.
    if (state.cookieId !== undefined || !state.isNew || o.saveUninitialized) sendCookie(o.name, io, cookie, signedValue(state, o.secrets), secure);
    if (state.isNew) return undefined;
    state.outcome = 'saved';
    return DESTROY;
  }
  // A Secure cookie cannot reach a plain-HTTP client: neither send it nor store a session
  // that no client could ever present.
  if (cookie.requiresTls(secure)) return undefined;
  const data = engine.dataOf(state.data);
  const loaded = state.loaded;
  const patch = loaded && !state.isNew ? diffSession(loaded.snapshot, data) : undefined;
  const changed = patch ? Object.keys(patch.set).length > 0 || patch.unset.length > 0 : Object.keys(data).length > 0;
  const cookieChanged = loaded !== undefined && !state.isNew && cookie.shape() !== loaded.cookieShape;
  const storedExpiry = loaded?.expiresAt;
  const renewing = o.renew && !state.isNew && storedExpiry !== undefined && cookie.originalMaxAge !== null && storedExpiry - Date.now() < cookie.originalMaxAge / 2;
  const save = state.forceSave || renewing || (state.isNew ? o.saveUninitialized || changed : changed || (o.resave && !state.saved));
  // Every response starts the lifetime again (express-session touches the cookie when it answers).
  cookie.resetMaxAge();
  const fresh = state.isNew || state.id !== state.cookieId;
  const send = fresh ? save || state.saved : o.rolling || renewing || cookieChanged || state.forceSave || (changed && cookie.expires !== null);
  if (send) sendCookie(o.name, io, cookie, signedValue(state, o.secrets), secure);
  if (save) {
    state.outcome = 'saved';
    return { op: 'write', data, patch };
  }
  if (state.isNew) return undefined;
  // Unchanged: move the stored expiry, at most once per `touchAfter` (coalesced touches), or
  // now when the app asked (`req.session.touch()`) or changed the cookie.
  const expiresAt = cookie.expires?.getTime();
  const lag = expiresAt !== undefined && storedExpiry !== undefined ? expiresAt - storedExpiry : Infinity;
  if (!cookieChanged && !state.touched && lag < touchAfterFor(o, cookie.originalMaxAge ?? o.ttlMs)) return undefined;
  return { op: 'touch', data };
}

function sendCookie(name: string, io: RequestIO, cookie: SessionCookie, value: string, secure: boolean): void {
  if (io.setCookieFields) io.setCookieFields(name, value, cookie.fields(secure));
  else io.setCookie(cookie.serialize(name, value, secure));
}

/** The signed cookie value: as received when it is signed with the newest secret, else signed anew. */
function signedValue(state: SessionState, secrets: string[]): string {
  return state.signedValue !== undefined && state.id === state.cookieId ? state.signedValue : signSessionId(state.id, secrets);
}

/** The cookie line that makes the browser drop the session cookie. */
function expiredCookie(name: string, cookie: SessionCookie, secure: boolean): string {
  return serialize(name, '', { expires: new Date(0), path: cookie.path, domain: cookie.domain, httpOnly: cookie.httpOnly, sameSite: cookie.sameSite === 'auto' ? (secure ? 'none' : 'lax') : cookie.sameSite, secure: cookie.secure === 'auto' ? secure : cookie.secure });
}
