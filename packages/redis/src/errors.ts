import { ScaleoutError, StoreTimeoutError, StoreUnavailableError } from '@scaleout/core';

/**
 * Fewer replicas than `waitReplicas` confirmed a write within `waitTimeout`. The write may have
 * reached the master, but it is not durable as asked, so it counts as failed: the HTTP layers
 * answer 503 (its code is `ERR_SCALEOUT_STORE_UNAVAILABLE`).
 */
export class ReplicaAckError extends StoreUnavailableError {
  /** Replicas that confirmed the write. */
  readonly acknowledged: number;
  /** Replicas that had to confirm it. */
  readonly required: number;
  constructor(operation: string, acknowledged: number, required: number, timeoutMs: number) {
    super(`session store ${operation}: ${acknowledged} of ${required} required replica(s) confirmed the write within ${timeoutMs} ms`);
    this.name = 'ReplicaAckError';
    this.acknowledged = acknowledged;
    this.required = required;
  }
}

/**
 * Maps whatever ioredis rejects with to a coded scaleout error. Every failure of the backend
 * (refused, reset, offline, CLUSTERDOWN, READONLY after a failover, LOADING, OOM, auth) means the
 * store cannot serve this request, which the HTTP layers turn into a 503; a command timeout keeps
 * its own code. Errors scaleout raised itself pass through unchanged.
 */
export function toStoreError(err: unknown, operation: string, timeoutMs: number): ScaleoutError {
  if (err instanceof ScaleoutError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/command timed out/i.test(message)) return new StoreTimeoutError(operation, timeoutMs);
  return new StoreUnavailableError(`session store ${operation} failed: ${message}`, { cause: err });
}
