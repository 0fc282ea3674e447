import { refuse } from './errors.js';

/** Milliseconds, or a string such as `'500ms'`, `'5s'`, `'2m'`, `'1h'`. */
export type Duration = number | string;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const MAX_MS = 2 ** 31 - 1; // the longest delay setTimeout honours

/** Parses a duration into whole milliseconds, or throws a coded error naming `field`. */
export function parseDuration(value: unknown, field: string): number {
  let out: number | undefined;
  if (typeof value === 'number') out = value;
  else if (typeof value === 'string' && value.length <= 32) {
    const m = PATTERN.exec(value.trim());
    if (m) out = Number(m[1]) * UNITS[m[2] ?? 'ms']!;
  }
  if (out === undefined || !Number.isFinite(out) || out < 0 || out > MAX_MS) {
    refuse(field, value, `use milliseconds (0 to ${MAX_MS}) or a string such as "500ms", "5s", "2m"`);
  }
  return Math.round(out);
}
