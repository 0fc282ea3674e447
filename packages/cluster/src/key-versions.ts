import { compareVersions, type Version } from './hybrid-clock.js';

/** The write that last set (or, `del`, removed) one top-level key of a session. */
export interface KeyVersion extends Version {
  del: boolean;
}

/** Keys written by patches after the session's last full write, with their versions. */
export type KeyVersions = ReadonlyMap<string, KeyVersion>;

/** A live session state as the merge sees it. */
export interface LiveState extends Version {
  exp: number;
  json: string;
  kv?: KeyVersions | undefined;
}

// A session is one value per key: a full write (`set`) stamps every key with its version (the
// state's base); a patch stamps only the keys it wrote or removed. Merging takes, key by key,
// the newer write — so concurrent patches of different keys on different nodes all survive —
// and the base and expiry of the newer full write. Keys absent from `kv` carry the base version.

function keyVersion(s: LiveState, key: string): Version {
  return s.kv?.get(key) ?? s;
}

function baseOrder(a: LiveState, b: LiveState): number {
  return compareVersions(a, b) || a.exp - b.exp;
}

/** True when `a` already holds everything `b` holds (equal states dominate each other). */
export function dominates(a: LiveState, b: LiveState): boolean {
  if (baseOrder(a, b) < 0) return false;
  if (b.kv) for (const [k, v] of b.kv) if (compareVersions(keyVersion(a, k), v) < 0) return false;
  return true;
}

function parse(json: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(json);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * The least state holding both: key by key the newer write, the base and expiry of the newer
 * full write. Keys come out sorted, so every node materializes the same JSON whatever order it
 * merged in.
 */
export function join(a: LiveState, b: LiveState): LiveState {
  const w = baseOrder(a, b) >= 0 ? a : b;
  const objA = parse(a.json);
  const objB = parse(b.json);
  const keys = new Set([...Object.keys(objA), ...Object.keys(objB), ...(a.kv?.keys() ?? []), ...(b.kv?.keys() ?? [])]);
  const out = Object.create(null) as Record<string, unknown>;
  const kv = new Map<string, KeyVersion>();
  for (const k of keys) {
    const va = keyVersion(a, k);
    const vb = keyVersion(b, k);
    const fromA = compareVersions(va, vb) >= 0;
    const obj = fromA ? objA : objB;
    const v = fromA ? va : vb;
    const present = Object.prototype.hasOwnProperty.call(obj, k);
    if (present) out[k] = obj[k];
    if (compareVersions(v, w) > 0) kv.set(k, { t: v.t, c: v.c, n: v.n, del: !present });
  }
  return { t: w.t, c: w.c, n: w.n, exp: w.exp, json: canonicalJson(out), kv: kv.size ? kv : undefined };
}

/**
 * The JSON of a session that carries key versions: keys sorted, so that two nodes holding the
 * same state hold the same bytes however they came by it (a local patch or a merge).
 */
export function canonicalJson(obj: Record<string, unknown>): string {
  // No prototype: a session key named "__proto__" stays a plain key.
  const out = Object.create(null) as Record<string, unknown>;
  for (const k of Object.keys(obj).sort()) out[k] = obj[k];
  return JSON.stringify(out);
}

/** A stable text of `kv` for hashing: equal on two nodes exactly when their key versions are. */
export function kvFingerprint(kv: KeyVersions | undefined): string {
  if (!kv || kv.size === 0) return '';
  return [...kv.entries()]
    .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    .map(([k, v]) => `${k}=${v.t}:${v.c}:${v.n}:${v.del ? 1 : 0}`)
    .join('|');
}
