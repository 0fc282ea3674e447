import { z } from 'zod';

/** `cluster.transport: { type: "in-process" }`: nodes in one process (tests, one-machine demos). */
export const inProcessTransportConfigSchema = z.strictObject({
  /** Always `"in-process"`. */
  type: z.literal('in-process'),
  /** The in-process bus: nodes in one process on the same bus see each other. */
  bus: z.string().min(1).default('default').meta({ accepts: 'string', description: 'the in-process bus: nodes in one process on the same bus see each other' }),
});

/** A validated `cluster.transport: { type: "in-process" }`. */
export type InProcessTransportConfig = z.output<typeof inProcessTransportConfigSchema>;
