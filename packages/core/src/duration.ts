import ms from 'ms';
import { ConfigError, describeValue } from './errors.js';

/** A duration as a number of milliseconds or a string such as `"30m"`, `"5s"`, `"250ms"`. */
export type Duration = number | string;

const MAX_DURATION_MS = 2 ** 31 - 1; // the largest delay setTimeout honours

/** Parses a duration into milliseconds, or throws a `ConfigError` naming `field`. */
export function parseDuration(value: unknown, field = 'duration'): number {
  let out: number | undefined;
  if (typeof value === 'number') out = value;
  else if (typeof value === 'string' && value.trim() !== '' && value.length <= 32) {
    out = /^\d+$/.test(value.trim()) ? Number(value.trim()) : (ms as (v: string) => number | undefined)(value.trim());
  }
  if (typeof out !== 'number' || !Number.isFinite(out) || out < 0 || out > MAX_DURATION_MS || !Number.isInteger(Math.round(out))) {
    throw new ConfigError(
      field,
      `${field}: ${describeValue(value, field)} is not a duration; use milliseconds (a whole number from 0 to ${MAX_DURATION_MS}) or a string such as "30m", "5s", "250ms"`,
    );
  }
  return Math.round(out);
}
