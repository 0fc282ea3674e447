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

/** A transport could not start, publish or was closed. */
export class TransportError extends ScaleoutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.TRANSPORT, message, options);
    this.name = 'TransportError';
  }
}
