import { z } from 'zod';
import { packageName, typeName } from './config-fields.js';
import { memoryStoreFields } from './memory-store-options.js';
import { MemoryStore } from './memory-store.js';
import type { StoreType, TypedSection } from './plugin-registry.js';

/**
 * `store` as core reads it: a `type`, and for a type no built-in package provides, the
 * `package` that registers it. The type's own fields are validated by the schema its package
 * registered (see docs/plugins.md).
 */
export const storeSectionSchema = z.looseObject({
  /** The store type: `"memory"`, `"redis"`, `"hazelcast"`, or one a package registers. */
  type: typeName().meta({ description: 'the store type: "memory", "redis", "hazelcast", or one a package registers' }),
  /** The package that registers `type`, loaded when nothing registered it yet. */
  package: packageName().optional().meta({ description: 'the package that registers `type`, loaded when nothing registered it yet' }),
});

/** `store: { type: "memory" }`, core's own store type. */
export const memoryStoreSchema = z.strictObject({
  /** Always `"memory"`: sessions are held in this process. */
  type: z.literal('memory'),
  ...memoryStoreFields,
});

/** A validated `store: { type: "memory" }`. */
export type MemoryStoreConfig = z.output<typeof memoryStoreSchema>;
/**
 * A `store` section: `type`, maybe `package`, and the fields of its type. The backend packages
 * export the validated shape of theirs (`RedisStoreConfig` in `@scaleout/redis`, …).
 */
export type StoreConfig = TypedSection;

/** Core's own store type, `memory`: always known, whatever is registered. */
export const memoryStoreType: StoreType<typeof memoryStoreSchema> = {
  schema: memoryStoreSchema,
  createStore: async (options) => new MemoryStore({ maxSessions: options.maxSessions }),
};
