import type { SessionData } from './types.js';

/**
 * What one request changed in a session, top-level key by key. Saving only this, instead of
 * the whole session, is what keeps two concurrent requests that change different keys from
 * overwriting each other (Spring Session's `SaveMode.ON_SET_ATTRIBUTE`).
 */
export interface SessionPatch {
  /** Keys written by the request, with their new values. */
  set: SessionData;
  /** Keys the request removed. */
  unset: string[];
}

/** The JSON of each top-level key of a session as it was loaded. */
export type SessionSnapshot = Map<string, string>;

/** Records a loaded session key by key, to diff against at save time. */
export function snapshotSession(data: SessionData): SessionSnapshot {
  const out: SessionSnapshot = new Map();
  for (const [k, v] of Object.entries(data)) if (v !== undefined) out.set(k, JSON.stringify(v));
  return out;
}

/**
 * What changed between a snapshot and the session about to be saved. `always` names keys
 * written even when unchanged (framework bookkeeping such as the cookie's expiry).
 */
export function diffSession(loaded: SessionSnapshot, current: SessionData, always: readonly string[] = []): SessionPatch {
  const plain = JSON.parse(JSON.stringify(current)) as SessionData;
  const set: SessionData = {};
  for (const [k, v] of Object.entries(plain)) {
    if (always.includes(k) || loaded.get(k) !== JSON.stringify(v)) set[k] = v;
  }
  const unset = [...loaded.keys()].filter((k) => !Object.hasOwn(plain, k));
  return { set, unset };
}

/** Applies a patch to a session object (a copy is returned). */
export function applyPatch(data: SessionData, patch: SessionPatch): SessionData {
  const out: SessionData = { ...data, ...patch.set };
  for (const k of patch.unset) delete out[k];
  return out;
}
