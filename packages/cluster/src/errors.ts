import { ErrorCodes, ScaleoutError } from '@scaleout/core';

/** A cluster node did not get its snapshot (or find out it is alone) within `readyTimeout`. */
export class NotReadyError extends ScaleoutError {
  /** How long the node waited, in ms (`readyTimeout`). */
  readonly timeoutMs: number;
  constructor(nodeId: string, timeoutMs: number, detail: string) {
    super(ErrorCodes.NOT_READY, `cluster node ${nodeId} was not ready within cluster.readyTimeout (${timeoutMs} ms): ${detail}`);
    this.name = 'NotReadyError';
    this.timeoutMs = timeoutMs;
  }
}

// The transports of every package throw core's TransportError; exported here too, where it was first.
export { TransportError } from '@scaleout/core';
