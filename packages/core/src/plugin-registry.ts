import { debuglog } from 'node:util';
import { z } from 'zod';
import type { ScaleoutConfig } from './config.js';
import { typeName } from './config-fields.js';
import { memoryStoreType } from './config-store.js';
import { ConfigError, describeValue, MissingPackageError } from './errors.js';
import { parseOptions } from './parse-options.js';
import type { SessionStore, Transport } from './types.js';

const debug = debuglog('scaleout:plugin-registry');

/** What `createStrategy` hands to a store type, a transport type or the cluster package. */
export interface PluginContext {
  /** This node's id. */
  nodeId: string;
  /** Secrets, newest first. */
  secret: string[];
  /** The whole validated config. */
  config: ScaleoutConfig;
}

/**
 * A store type, as a backend package registers it with {@link registerStoreType}. `schema`
 * validates the whole `store` section, `type` included (`package` is taken out first), and is
 * the one place the type's options are written: its output, defaults filled in, is what
 * `createStore` receives.
 */
export interface StoreType<S extends z.ZodType = z.ZodType> {
  /** Validates the whole `store` section (`type` included, `package` taken out); its output is what `createStore` receives. */
  readonly schema: S;
  /** Opens the store `options` describe; resolves once it is usable. */
  createStore(options: z.output<S>, context: PluginContext): Promise<SessionStore>;
}

/** A transport type of the `cluster` strategy, registered with {@link registerTransportType}; `schema` validates `cluster.transport`. */
export interface TransportType<S extends z.ZodType = z.ZodType> {
  /** Validates the whole `cluster.transport` section (`type` included, `package` taken out); its output is what `createTransport` receives. */
  readonly schema: S;
  /** Opens the transport `options` describe; resolves once it can publish and receive. */
  createTransport(options: z.output<S>, context: PluginContext): Promise<Transport>;
}

/** What `@scaleout/cluster` exports for the `cluster` strategy. */
export interface ClusterPlugin {
  /** Opens this node's replicated store; resolves once it holds its snapshot. */
  createReplicatedStore(context: PluginContext): Promise<SessionStore>;
}

/**
 * The packages that provide the types scaleout documents, loaded by name when a config uses one
 * of them and nothing registered it yet. Any other type names its package in `package`.
 */
export const BUILTIN_STORE_PACKAGES: Readonly<Record<string, string>> = Object.freeze({ redis: '@scaleout/redis', hazelcast: '@scaleout/hazelcast' });
/** As {@link BUILTIN_STORE_PACKAGES}, for `cluster.transport.type`. */
export const BUILTIN_TRANSPORT_PACKAGES: Readonly<Record<string, string>> = Object.freeze({
  'in-process': '@scaleout/cluster',
  redis: '@scaleout/redis',
  hazelcast: '@scaleout/hazelcast',
});
/** The package `createStrategy` loads for `strategy: "cluster"`. */
export const CLUSTER_PACKAGE = '@scaleout/cluster';

interface Registry {
  stores: Map<string, StoreType>;
  transports: Map<string, TransportType>;
}

// On globalThis, keyed by a registered symbol: an app that ends up with two copies of core (one
// CommonJS, one ES module, or two versions side by side) still has one registry, so a backend
// registered through either copy is found by both.
const REGISTRY = Symbol.for('@scaleout/core:registry');
const registry: Registry = ((globalThis as Record<symbol, unknown>)[REGISTRY] as Registry | undefined) ??
  ((globalThis as Record<symbol, unknown>)[REGISTRY] = { stores: new Map(), transports: new Map() } satisfies Registry) as Registry;

function checkRegistration(what: string, name: string, schema: unknown, fn: unknown): void {
  if (what === 'store' && CORE_STORE_TYPES.has(name)) throw new ConfigError('store.type', `cannot register store type "${name}": it is @scaleout/core's own`);
  const named = typeName().safeParse(name);
  if (!named.success) throw new ConfigError(`${what}.type`, `cannot register ${what} type ${describeValue(name)}: ${named.error.issues[0]!.message}`);
  if (!(schema instanceof z.ZodType) && typeof (schema as { safeParse?: unknown } | null)?.safeParse !== 'function') {
    throw new ConfigError(`${what}.type`, `cannot register ${what} type "${name}": expected a zod schema in "schema"`);
  }
  if (typeof fn !== 'function') throw new ConfigError(`${what}.type`, `cannot register ${what} type "${name}": expected a function to open it`);
}

/**
 * Makes `store.type: name` available to `createStrategy()`. A backend package calls it when it
 * is imported; registering a name again replaces the earlier entry (the same package imported
 * twice registers the same thing).
 */
export function registerStoreType<S extends z.ZodType>(name: string, type: StoreType<S>): void {
  checkRegistration('store', name, type?.schema, type?.createStore);
  debug('store type %s registered', name);
  registry.stores.set(name, type as unknown as StoreType);
}

/** Makes `cluster.transport.type: name` available to the `cluster` strategy. */
export function registerTransportType<S extends z.ZodType>(name: string, type: TransportType<S>): void {
  checkRegistration('transport', name, type?.schema, type?.createTransport);
  debug('transport type %s registered', name);
  registry.transports.set(name, type as unknown as TransportType);
}

// Core's own store types come from this copy of core, never from the shared registry: in an app
// with two copies, each copy's createStrategy() opens its own MemoryStore class, the one its
// `instanceof` checks (metrics) know.
const CORE_STORE_TYPES: ReadonlyMap<string, StoreType> = new Map([['memory', memoryStoreType as unknown as StoreType]]);

/** The store type registered under `name` (or core's own `memory`), if any. */
export function registeredStoreType(name: string): StoreType | undefined {
  return CORE_STORE_TYPES.get(name) ?? registry.stores.get(name);
}

/** The transport type registered under `name`, if any. */
export function registeredTransportType(name: string): TransportType | undefined {
  return registry.transports.get(name);
}

/**
 * Loads an optional package by name, only when the config asks for it, so that `core` never
 * depends on ioredis or hazelcast-client. A missing package becomes an error naming it.
 */
export async function loadPlugin<T>(name: string, why: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if ((e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && String(e.message).includes(name)) {
      throw new MissingPackageError(name, why, { cause: err });
    }
    throw err;
  }
}

/** A `store` or `cluster.transport` section before its type is known: `type`, maybe `package`, and the type's own fields. */
export interface TypedSection {
  /** The type's name, as registered with {@link registerStoreType} or {@link registerTransportType}. */
  type: string;
  /** The package that registers `type`, loaded when nothing registered it yet; the built-in package of the type when absent. */
  package?: string | undefined;
  /** The type's own fields, validated by the schema its package registered. */
  [field: string]: unknown;
}

interface SectionKind<T> {
  /** Dotted path of the section. */
  path: string;
  find(name: string): T | undefined;
  builtins: Readonly<Record<string, string>>;
  /** Types that are not loaded from a package. */
  local: readonly string[];
}

const STORE: SectionKind<StoreType> = { path: 'store', find: registeredStoreType, builtins: BUILTIN_STORE_PACKAGES, local: ['memory'] };
const TRANSPORT: SectionKind<TransportType> = { path: 'cluster.transport', find: registeredTransportType, builtins: BUILTIN_TRANSPORT_PACKAGES, local: [] };

/** The package a section's type comes from, or a refusal when no package could provide it. */
function packageOf<T>(kind: SectionKind<T>, section: TypedSection): string {
  const name = section.package ?? kind.builtins[section.type];
  if (name !== undefined) return name;
  const known = [...new Set([...kind.local, ...Object.keys(kind.builtins)])].map((t) => `"${t}"`).join(', ');
  throw new ConfigError(
    `${kind.path}.type`,
    `config ${kind.path}.type: got ${describeValue(section.type)}; expected ${known}, or another type with the package that provides it in "${kind.path}.package"`,
  );
}

/**
 * Checks, without loading anything, that a section's type can be found: registered, built in, or
 * named with its package. Returns the type when it is registered already.
 */
function knownType<T>(kind: SectionKind<T>, section: TypedSection): T | undefined {
  const found = kind.find(section.type);
  if (!found) packageOf(kind, section);
  return found;
}

async function resolveType<T>(kind: SectionKind<T>, section: TypedSection): Promise<T> {
  const found = knownType(kind, section);
  if (found) return found;
  const name = packageOf(kind, section);
  await loadPlugin(name, `${kind.path}.type "${section.type}"`);
  const loaded = kind.find(section.type);
  if (!loaded) {
    throw new ConfigError(`${kind.path}.type`, `config ${kind.path}.type: got ${describeValue(section.type)}; the package ${name} was loaded but registered no such type`);
  }
  return loaded;
}

/**
 * Validates a section with its type's schema. `options`, the schema's output, is what the type
 * opens; `section` is the same with `package` kept as given, for the validated config.
 */
function validateSection(kind: SectionKind<{ schema: z.ZodType }>, type: { schema: z.ZodType }, section: TypedSection): { options: TypedSection; section: TypedSection } {
  const { package: pkg, ...fields } = section;
  const options = parseOptions(type.schema, fields, kind.path.split('.')) as TypedSection;
  return { options, section: pkg === undefined ? options : { ...options, package: pkg } };
}

/** Validates `section` now if its store type is registered; refuses a type no package could provide. Used by `parseConfig()`. */
export function checkStoreSection(section: TypedSection): TypedSection {
  const type = knownType(STORE, section);
  return type ? validateSection(STORE, type, section).section : section;
}

/** As {@link checkStoreSection}, for `cluster.transport`. */
export function checkTransportSection(section: TypedSection): TypedSection {
  const type = knownType(TRANSPORT, section);
  return type ? validateSection(TRANSPORT, type, section).section : section;
}

/** A section whose type was found: the type, the options it opens with, and the validated section (`package` kept). */
export interface ResolvedSection<T> {
  /** The registered type that opens the section. */
  type: T;
  /** The output of the type's schema, defaults filled in and `package` taken out: what the type opens with. */
  options: TypedSection;
  /** The validated section for the config: `options` with `package` kept as given. */
  section: TypedSection;
}

/**
 * Finds the store type of a `store` section (registered, or registered by loading the package
 * the section names or the built-in one) and validates the section with its schema. A missing
 * package is a `MissingPackageError` naming the install command.
 */
export async function resolveStoreSection(section: TypedSection): Promise<ResolvedSection<StoreType>> {
  const type = await resolveType(STORE, section);
  return { type, ...validateSection(STORE, type, section) };
}

/** As {@link resolveStoreSection}, for `cluster.transport`. */
export async function resolveTransportSection(section: TypedSection): Promise<ResolvedSection<TransportType>> {
  const type = await resolveType(TRANSPORT, section);
  return { type, ...validateSection(TRANSPORT, type, section) };
}
