import type { z } from 'zod';
import { ConfigError, describeValue } from './errors.js';

function valueAt(input: unknown, path: readonly string[]): unknown {
  let value = input;
  for (const p of path) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[p] : undefined;
  return value;
}

/** One zod issue as a `ConfigError` naming the dotted field (under `prefix`), the value given and what is allowed. */
export function issueToConfigError(issue: z.core.$ZodIssue, input: unknown, prefix: readonly string[] = []): ConfigError {
  const path = issue.path.map(String);
  const full = [...prefix, ...path];
  const field = full.length ? full.join('.') : '(root)';
  if (issue.code === 'unrecognized_keys') {
    const first = full.concat(issue.keys[0] ?? '').filter(Boolean).join('.');
    const which = issue.keys.length === 1 ? `${first}: unknown field` : `${field}: unknown fields ${issue.keys.join(', ')}`;
    return new ConfigError(first, `config ${which}; check the spelling against the configuration reference`);
  }
  let allowed = issue.message;
  if (issue.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator) allowed = `${issue.message} in "${issue.discriminator}"`;
  const value = valueAt(input, path);
  const got = value === undefined ? 'missing' : `got ${describeValue(value, field)}`;
  return new ConfigError(field, `config ${field}: ${got}; ${allowed}`);
}

/**
 * Validates `input` with `schema` and returns its output (defaults filled in, durations in ms).
 * A refusal is a `ConfigError` naming the first field under `prefix` (`store.url` for
 * `prefix: ['store']`); several refusals are kept, each one, in its `AggregateError` cause.
 * Config sections and the constructors of backend packages validate their options with it.
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, prefix: readonly string[] = []): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors = result.error.issues.map((i) => issueToConfigError(i, input, prefix));
  if (errors.length === 1) throw errors[0]!;
  const first = errors[0]!;
  throw new ConfigError(first.field, errors.map((e) => e.message).join('\n'), { cause: new AggregateError(errors, 'config refused') });
}

/** The fields of `shape` that have a default: optional in the input, never undefined once parsed. */
export type SchemaDefaults<T extends z.ZodRawShape> = {
  readonly [K in keyof T as undefined extends z.input<T[K]> ? (undefined extends z.output<T[K]> ? never : K) : never]: z.output<T[K]>;
};

/**
 * The defaults an options schema fills in when a field is left out: each field of the object
 * schema parsed from nothing, keeping those that give a value (required and merely optional
 * fields are left out). A component's `DEFAULT_*` object is derived with it, so its defaults are
 * written once, in the schema.
 */
export function schemaDefaults<T extends z.ZodRawShape>(schema: { readonly shape: T }): SchemaDefaults<T> {
  const defaults: Record<string, unknown> = {};
  for (const [field, type] of Object.entries(schema.shape)) {
    const parsed = (type as z.ZodType).safeParse(undefined);
    if (parsed.success && parsed.data !== undefined) defaults[field] = parsed.data;
  }
  return Object.freeze(defaults) as SchemaDefaults<T>;
}
