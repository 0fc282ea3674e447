import type { SessionData } from '@scaleout/core';

/**
 * Turns a session into the bytes of one Redis string and back: the layout of scaleout 0.1 (and
 * of connect-redis). Sessions are now written as hashes; a serializer only reads the strings that
 * older nodes wrote, until each is rewritten on its next save.
 */
export interface Serializer {
  /** Turns a session into the bytes of one Redis string. */
  stringify(data: SessionData): string | Buffer;
  /** May throw or return anything: whatever is not a plain object reads as no session. */
  parse(raw: string | Buffer): unknown;
  /**
   * Hand `parse` the stored bytes as a Buffer rather than UTF-8 text (for binary formats).
   * @default false
   */
  binary?: boolean;
}

/** The default: JSON text, as scaleout 0.1 and connect-redis 8 write it. */
export const JSON_SERIALIZER: Serializer = {
  stringify: (data) => JSON.stringify(data),
  parse: (raw) => JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8')) as unknown,
};

/**
 * The hash layout: one field per top-level session key holding that key's JSON, beside metadata
 * fields that start with `#` (as Spring Session keeps `creationTime` beside `sessionAttr:*`). A
 * session key that itself starts with `#` is stored with one more `#` in front, so no key can
 * pass for metadata. The version tells a future layout apart: a node reads only its own.
 */
export const LAYOUT_VERSION = '2';

/** Names of the metadata fields. */
export const META = {
  /** The layout version, {@link LAYOUT_VERSION}: a hash without it is not a session. */
  version: '#v',
  /** When the session was first written here, ms since the epoch. */
  created: '#created',
  /** When a request last saved it, ms since the epoch. */
  lastAccess: '#lastAccess',
  /** The lifetime its last save gave it, in ms (sliding: each save and touch restarts it). */
  maxInactive: '#maxInactive',
  /**
   * With the index of sessions by user: `"<until> <user field>"`, that the user's set holds this
   * session and lives until `until` (ms since the epoch), so saves before then leave the set alone.
   */
  userSet: '#userSet',
} as const;

/** The hash field that holds session key `key`. */
export function fieldOf(key: string): string {
  return key.charCodeAt(0) === 35 /* # */ ? `#${key}` : key;
}

/**
 * Flat field/value pairs for `data`'s keys, JSON each. Keys JSON leaves out (`undefined`,
 * functions) are left out. Throws what `JSON.stringify` throws (a cycle, a BigInt).
 */
export function sessionFields(data: SessionData, out: string[] = []): string[] {
  for (const key of Object.keys(data)) {
    const json = JSON.stringify(data[key]);
    if (json !== undefined) out.push(fieldOf(key), json);
  }
  return out;
}

/** Metadata pairs a save writes: last access and lifetime, and the version and creation time for a full write. */
export function metaFields(ttlMs: number, now: number, full: boolean): string[] {
  const out = [META.lastAccess, String(now), META.maxInactive, String(ttlMs)];
  if (full) out.push(META.version, LAYOUT_VERSION, META.created, String(now));
  return out;
}

/** UTF-8 bytes of every string in `parts`. */
export function byteSize(parts: readonly string[]): number {
  let n = 0;
  for (const p of parts) n += Buffer.byteLength(p);
  return n;
}

/**
 * The session a stored hash holds, or `undefined` when it is not one: no or another layout
 * version, a field that is not JSON, more than `maxBytes` in all. An empty hash is never
 * passed here (Redis has no empty hashes: it is a missing key).
 */
export function decodeHash(fields: Record<string, string>, maxBytes: number): SessionData | undefined {
  if (fields[META.version] !== LAYOUT_VERSION) return undefined;
  const names = Object.keys(fields);
  let chars = 0;
  for (const name of names) chars += name.length + fields[name]!.length;
  // A UTF-16 unit is one to three UTF-8 bytes: count bytes only when the length cannot decide.
  if (chars > maxBytes || (chars * 3 > maxBytes && byteSize(names.flatMap((n) => [n, fields[n]!])) > maxBytes)) return undefined;
  const out: SessionData = {};
  try {
    for (const name of names) {
      if (name.charCodeAt(0) === 35 && name.charCodeAt(1) !== 35) continue; // metadata
      const key = name.charCodeAt(0) === 35 ? name.slice(1) : name;
      const value: unknown = JSON.parse(fields[name]!);
      // `__proto__` as a session key stays an own property, as JSON.parse would leave it.
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
    }
  } catch {
    return undefined;
  }
  return out;
}
