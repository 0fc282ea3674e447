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

/**
 * Each top-level key of a session as it was loaded: primitives as they are, objects as JSON.
 * It runs on every request, so it serializes only what cannot be compared with `===`.
 */
export type SessionSnapshot = Map<string, unknown>;

/** Marks an object value's JSON in a snapshot (a string value stays a plain string). */
class Json {
  constructor(readonly text: string) {}
}

/** A value as JSON would store it: `undefined` and functions are absent, -0 is 0, NaN and Infinity are null. */
function jsonPrimitive(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v + 0 : null;
  return v;
}

function isAbsent(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}

/** Records a loaded session key by key, to diff against at save time. Keys in `skip` are not recorded (they are always written). */
export function snapshotSession(data: SessionData, skip: readonly string[] = []): SessionSnapshot {
  const out: SessionSnapshot = new Map();
  for (const k of Object.keys(data)) {
    const v = data[k];
    if (isAbsent(v) || skip.includes(k)) continue;
    out.set(k, v !== null && typeof v === 'object' ? new Json(JSON.stringify(v)) : jsonPrimitive(v));
  }
  return out;
}

/**
 * What changed between a snapshot and the session about to be saved. `always` names keys
 * written even when unchanged (framework bookkeeping such as the cookie's expiry).
 */
export function diffSession(loaded: SessionSnapshot, current: SessionData, always: readonly string[] = []): SessionPatch {
  const set: SessionData = {};
  const present = new Set<string>();
  for (const k of Object.keys(current)) {
    const v = current[k];
    if (isAbsent(v)) continue;
    present.add(k);
    if (v !== null && typeof v === 'object') {
      const text = JSON.stringify(v);
      const before = loaded.get(k);
      if (always.includes(k) || !(before instanceof Json) || before.text !== text) set[k] = JSON.parse(text) as unknown;
    } else {
      const value = jsonPrimitive(v);
      if (always.includes(k) || !loaded.has(k) || loaded.get(k) !== value) set[k] = value;
    }
  }
  const unset: string[] = [];
  for (const k of loaded.keys()) if (!present.has(k)) unset.push(k);
  return { set, unset };
}

/** Applies a patch to a session object (a copy is returned). */
export function applyPatch(data: SessionData, patch: SessionPatch): SessionData {
  const out: SessionData = { ...data, ...patch.set };
  for (const k of patch.unset) delete out[k];
  return out;
}
