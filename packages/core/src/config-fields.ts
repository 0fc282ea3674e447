import { z } from 'zod';
import { parseDuration } from './duration.js';

// Field builders shared by every config section. Environment overrides arrive as strings, so
// each builder also accepts the string form ("5", "true", "a,b").

/** A duration (`"30m"`, `"5s"`, ms) resolved to milliseconds. */
export const duration = () =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    try {
      return parseDuration(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected a duration: milliseconds or a string such as "30m", "5s", "250ms"' });
      return z.NEVER;
    }
  });

/** A duration of more than 0 ms: a timeout. */
export const positiveDuration = () => duration().refine((ms) => ms > 0, 'expected more than 0 ms');

/** A whole number within bounds. */
export const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess((v) => (typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v), z.number().int().min(min).max(max));

/** A boolean, also from "true"/"false". */
export const bool = () => z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

/** A list, also from a comma-separated string. */
export const list = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v),
    z.array(item).min(1),
  );

/** `host:port`, as Sentinel and Cluster seeds are written. */
export const hostPort = () =>
  z.string().regex(/^[A-Za-z0-9._-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$/, 'expected "host:port"');

/** A cookie name: an RFC 6265 token. */
export const cookieName = () =>
  z
    .string()
    .min(1)
    .max(64)
    .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'expected an RFC 6265 cookie name (a token)')
    // express-session reads cookies from a plain object: `constructor` would be Object.prototype's.
    .refine((n) => !(n in Object.prototype), 'expected a name that is not a member of JavaScript objects (constructor, toString, __proto__, ...)');

/** A redis:// or rediss:// URL. */
export const redisUrl = () => z.url({ protocol: /^rediss?$/, error: 'expected a redis:// or rediss:// URL' });

/** A store or transport `type` name. */
export const typeName = () =>
  z.string().min(1).max(64).regex(/^[a-z0-9][a-z0-9._-]*$/, 'expected a type name: lower-case letters, digits and . _ -');

/** An npm package name (with its scope, if any), as `store.package` names one. */
export const packageName = () =>
  z.string().max(214).regex(/^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/, 'expected an npm package name such as "scaleout-store-foo" or "@org/store"');
