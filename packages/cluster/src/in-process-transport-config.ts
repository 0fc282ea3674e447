import { schemaDefaults } from '@scaleout/core';
import { z } from 'zod';

// The options of InProcessTransport are written once, here: the constructor validates with
// inProcessTransportOptionsSchema, the `cluster.transport: { type: "in-process" }` config
// section with inProcessTransportConfigSchema, whose table docs/configuration.md is generated from.

/** The bus's field, in the config section and the constructor. */
const busField = {
  /** Name of the bus: transports on the same bus in one process reach each other. */
  bus: z.string().min(1).default('default').meta({ accepts: 'string', description: 'the in-process bus: nodes in one process on the same bus see each other' }),
};

/** The options of {@link InProcessTransport}, validated by its constructor. */
export const inProcessTransportOptionsSchema = z.strictObject({
  ...busField,
  /** Fraction (0 to 1) of deliveries silently dropped, to test loss handling; nothing is dropped by default. */
  dropRate: z.number().min(0).max(1).default(0).meta({ accepts: '0–1', description: 'fraction of deliveries silently dropped, to test loss handling' }),
});

/** Options of {@link InProcessTransport}, as given. */
export type InProcessTransportOptions = z.input<typeof inProcessTransportOptionsSchema>;

/** Defaults of {@link InProcessTransportOptions}, from its schema. */
export const DEFAULT_IN_PROCESS_TRANSPORT_OPTIONS = schemaDefaults(inProcessTransportOptionsSchema);

/** `cluster.transport: { type: "in-process" }`: nodes in one process (tests, one-machine demos). */
export const inProcessTransportConfigSchema = z.strictObject({
  /** Always `"in-process"`. */
  type: z.literal('in-process'),
  ...busField,
});

/** A validated `cluster.transport: { type: "in-process" }`. */
export type InProcessTransportConfig = z.output<typeof inProcessTransportConfigSchema>;
