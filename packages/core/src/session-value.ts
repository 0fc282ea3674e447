import { InvalidArgumentError } from './errors.js';
import type { SessionData } from './types.js';

/** Longest session id accepted by any store: ids are short random strings, so more is an attack. */
export const MAX_SESSION_ID_LENGTH = 256;

/** Throws unless `id` is a non-empty string of at most {@link MAX_SESSION_ID_LENGTH} characters. */
export function checkSessionId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_SESSION_ID_LENGTH) {
    throw new InvalidArgumentError('id', `session id must be a string of 1 to ${MAX_SESSION_ID_LENGTH} characters`);
  }
}

/** Throws unless `ttlMs` is a positive finite number of milliseconds. */
export function checkTtl(ttlMs: unknown): asserts ttlMs is number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new InvalidArgumentError('ttlMs', `ttlMs must be a positive number of milliseconds, got ${String(ttlMs)}`);
  }
}

/** True when `value` is a session object: a plain, non-null, non-array object. */
export function isSessionData(value: unknown): value is SessionData {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Parses a stored session. Anything that is not JSON of a plain object (garbage bytes, `123`,
 * `null`, `[]`, a string) reads as no session rather than an error: the request goes on fresh.
 */
export function decodeSession(raw: string | Buffer | null | undefined): SessionData | undefined {
  if (raw === null || raw === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
    return isSessionData(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
