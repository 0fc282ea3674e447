import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { bool, cookieName, duration } from './config-fields.js';
import { storeSectionSchema } from './config-store.js';
import { clusterSchema } from './config-cluster.js';
import { ConfigError, describeValue, MissingPackageError } from './errors.js';
import { parseOptions } from './parse-options.js';
import { checkStoreSection, checkTransportSection, resolveStoreSection, resolveTransportSection } from './plugin-registry.js';

const secretSchema = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)], { error: 'expected a non-empty string or a non-empty array of strings, newest first' })
  .transform((s) => (typeof s === 'string' ? [s] : s));

const sessionSchema = z.strictObject({
  /** Session lifetime, sliding. @default "30m" */
  ttl: duration().default(30 * 60_000),
  /** @default "sid" */
  cookieName: cookieName().default('sid'),
  /** Longest a store operation may take before the request gets a 503. @default "2s" */
  storeTimeout: duration().default(2000),
  /** While the store is down: `fail` answers 503, `bypass` serves without a session. @default "fail" */
  onStoreDown: z.enum(['fail', 'bypass']).default('fail'),
  /** `Secure` cookie attribute; `auto` sets it on HTTPS requests. @default "auto" */
  secure: z.union([bool(), z.literal('auto')]).default('auto'),
  /** @default "lax" */
  sameSite: z.enum(['lax', 'strict', 'none']).default('lax'),
  /** The session key that holds the user's id (`login()`, `strategy.sessions`). @default "userId" */
  userKey: z.string().min(1).max(128).default('userId'),
});

/** `sessions`: the sessions by user (`strategy.sessions`) and their events. */
const sessionsSchema = z.strictObject({
  /**
   * Where `expired` session events are delivered: `every-node` on each node that hears the
   * expiry, `once` on one node of the fleet (Redis and Hazelcast stores only; see
   * docs/sessions-by-user.md). @default "every-node"
   */
  events: z.enum(['every-node', 'once']).default('every-node'),
});

const stickySchema = z.strictObject({
  /** @default "route" */
  cookieName: cookieName().default('route'),
});

/** The schema of `scaleout.config.json`. */
export const configSchema = z.strictObject({
  /** Where sessions live: `sticky`, `cluster` or `store`. @default "sticky" */
  strategy: z.enum(['sticky', 'cluster', 'store']).default('sticky'),
  /** This node's id: a proxy target's `id`, and the input of its route tag. @default `<hostname>-<pid>` */
  nodeId: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._:-]+$/, 'expected letters, digits and . _ : -')
    .default(() => `${hostname().replace(/[^A-Za-z0-9._:-]/g, '-')}-${process.pid}`),
  /** Signs session cookies, route tags and replication messages: a string or an array, newest first. */
  secret: secretSchema,
  /** The session cookie and lifetime. */
  session: sessionSchema.default(() => sessionSchema.parse({})),
  /** Sessions by user and their events (`strategy.sessions`, `strategy.on('session')`). */
  sessions: sessionsSchema.default(() => sessionsSchema.parse({})),
  /** The route cookie of the `sticky` strategy. */
  sticky: stickySchema.default(() => stickySchema.parse({})),
  /** Replication of the `cluster` strategy; required by it. */
  cluster: clusterSchema.optional(),
  /**
   * The session store of the `store` strategy (`sticky` allows only `memory`): its `type`, and the
   * fields the package of that type validates. @default `{ "type": "memory" }`
   */
  store: storeSectionSchema.default(() => ({ type: 'memory' })),
});

/** A config as written by a user (durations as strings, defaults omitted). */
export type ScaleoutConfigInput = z.input<typeof configSchema>;
/** A validated config: defaults filled in, durations in milliseconds, `secret` an array. */
export type ScaleoutConfig = z.output<typeof configSchema>;

/** Name of the config file read from the working directory. */
export const CONFIG_FILE = 'scaleout.config.json';
const ENV_PREFIX = 'SCALEOUT_';

/**
 * Validates a config object and fills in defaults. Throws `ConfigError` naming the field, the value
 * and what is allowed. The `store` and `cluster.transport` sections are validated by the schema of
 * their type when it is registered already (core's `memory`, or a package imported before);
 * otherwise {@link loadConfig} and `createStrategy()` validate them once the package is loaded.
 */
export function parseConfig(input: unknown): ScaleoutConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError('(root)', `config: got ${describeValue(input)}; expected an object`);
  }
  const config = parseOptions(configSchema, input);
  config.store = checkStoreSection(config.store);
  if (config.cluster) config.cluster.transport = checkTransportSection(config.cluster.transport);
  return config;
}

/**
 * {@link parseConfig}, then the `store` and `cluster.transport` sections validated by the schema of
 * their type, loading the package that provides it (`@scaleout/redis` for `"redis"`, or the one
 * named in `package`). A package that is not installed is left for `createStrategy()` to report.
 */
export async function resolveConfig(input: unknown): Promise<ScaleoutConfig> {
  const config = parseConfig(input);
  const tolerateMissing = (err: unknown) => {
    if (!(err instanceof MissingPackageError)) throw err;
  };
  await resolveStoreSection(config.store).then(({ section }) => void (config.store = section), tolerateMissing);
  const cluster = config.cluster;
  if (cluster) await resolveTransportSection(cluster.transport).then(({ section }) => void (cluster.transport = section), tolerateMissing);
  return config;
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

function envKeyToPath(key: string): string[] {
  return key
    .slice(ENV_PREFIX.length)
    .split('__')
    .map((seg) => seg.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
}

function envValue(raw: string): unknown {
  const t = raw.trim();
  if (t.startsWith('[') || t.startsWith('{')) {
    try {
      return JSON.parse(t);
    } catch {
      return raw;
    }
  }
  return raw;
}

/**
 * Turns `SCALEOUT_*` variables into a config fragment. Nesting uses `__` and words use `_`:
 * `SCALEOUT_NODE_ID` → `nodeId`, `SCALEOUT_STORE__WAIT_REPLICAS` → `store.waitReplicas`,
 * `SCALEOUT_SECRET=new,old` → `secret: ["new", "old"]` (a JSON array when a secret has a comma).
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith(ENV_PREFIX) || key === 'SCALEOUT_CONFIG' || raw === undefined || raw === '') continue;
    const path = envKeyToPath(key);
    if (path.some((seg) => seg === '')) continue; // refused by loadConfig, which names it
    let value = envValue(raw);
    if (path.length === 1 && path[0] === 'secret' && typeof value === 'string') value = value.split(',').filter(Boolean);
    let node = out;
    path.slice(0, -1).forEach((seg) => {
      if (typeof node[seg] !== 'object' || node[seg] === null) node[seg] = {};
      node = node[seg] as Record<string, unknown>;
    });
    node[path[path.length - 1]!] = value;
  }
  return out;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    const value =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
    // defineProperty, not assignment: a `__proto__` key from JSON stays a field (and is refused
    // as unknown) instead of replacing the object's prototype.
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Where {@link loadConfig} looks. */
export interface LoadConfigOptions {
  /** The config file. @default `$SCALEOUT_CONFIG`, else `scaleout.config.json` in `cwd` */
  file?: string;
  /** @default process.cwd() */
  cwd?: string;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Applied last, over the file and the environment. */
  overrides?: ScaleoutConfigInput | Record<string, unknown>;
}

/**
 * Reads `scaleout.config.json` (or `$SCALEOUT_CONFIG`), applies `SCALEOUT_*` variables over it,
 * then `overrides`, validates and fills in defaults, the `store` and `cluster.transport` sections
 * by the schemas of their packages ({@link resolveConfig}). A missing default file is not an error
 * (env and defaults alone may do); a missing explicit file is.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ScaleoutConfig> {
  const env = options.env ?? process.env;
  const explicit = options.file ?? env.SCALEOUT_CONFIG;
  const file = resolve(options.cwd ?? process.cwd(), explicit ?? CONFIG_FILE);
  let fromFile: Record<string, unknown> = {};
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (explicit || (err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError('(file)', `config file ${file} cannot be read: ${(err as Error).message}`, { cause: err });
    }
  }
  if (text !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      // V8 quotes a snippet of the text in its message, and the file holds secrets: give the
      // position only, and do not attach the SyntaxError.
      const at = /position (\d+)/.exec((err as Error).message)?.[1];
      throw new ConfigError('(file)', `config file ${file} is not valid JSON${at === undefined ? '' : ` near ${lineAndColumn(text, Number(at))}`}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigError('(root)', `config file ${file}: expected a JSON object`);
    }
    fromFile = parsed as Record<string, unknown>;
  }
  for (const key of Object.keys(env)) {
    if (key.startsWith(ENV_PREFIX) && key !== 'SCALEOUT_CONFIG' && env[key] && envKeyToPath(key).some((seg) => seg === '')) {
      throw new ConfigError(key, `environment variable ${key} names no config field: use SCALEOUT_ + the field path, with __ between levels (SCALEOUT_STORE__URL)`);
    }
  }
  const merged = deepMerge(deepMerge(fromFile, configFromEnv(env)), (options.overrides ?? {}) as Record<string, unknown>);
  return resolveConfig(merged);
}
