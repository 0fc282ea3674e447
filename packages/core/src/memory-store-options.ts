import { z } from 'zod';
import { duration, int } from './config-fields.js';
import { schemaDefaults } from './parse-options.js';

// The options of MemoryStore are written once, here: the constructor validates with
// memoryStoreOptionsSchema, and the `store: { type: "memory" }` section (memoryStoreSchema, in
// config-store.ts) spreads the field a config can give.

/** The fields that the `store: { type: "memory" }` section and the constructor share. */
export const memoryStoreFields = {
  /** Most sessions held at once; past it the least recently used one is evicted (`evict` event). `0`: no bound. */
  maxSessions: int(0)
    .default(100_000)
    .meta({ accepts: 'whole number ≥ 0', description: 'most sessions held; the least recently used are evicted past it (`evict` event). `0`: no bound' }),
};

/** The options of {@link MemoryStore}, validated by its constructor. */
export const memoryStoreOptionsSchema = z.strictObject({
  ...memoryStoreFields,
  /** How often expired sessions are swept out (and their memory freed) without any read, in ms once validated; at least every 10 ms. */
  sweepInterval: duration().prefault('1s'),
  /** Largest serialized session accepted, in bytes. */
  maxValueBytes: int(1).default(1024 * 1024),
});

/** Options of {@link MemoryStore}, as given (durations as strings or ms). */
export type MemoryStoreOptions = z.input<typeof memoryStoreOptionsSchema>;

/** Defaults of {@link MemoryStoreOptions}, from its schema. */
export const DEFAULT_MEMORY_STORE_OPTIONS = schemaDefaults(memoryStoreOptionsSchema);
