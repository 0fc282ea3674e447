import { ScaleoutError, StoreTimeoutError, StoreUnavailableError } from '@scaleout/core';

// hazelcast-client names its errors by class; these mean "the cluster cannot answer now".
const TIMEOUT_ERRORS = new Set(['OperationTimeoutError']);

/**
 * Maps whatever hazelcast-client rejects with to a coded scaleout error: an offline client,
 * a lost member, a client shut down or any other cluster failure means the store cannot serve
 * this request (the HTTP layers answer 503); an invocation timeout keeps its own code.
 */
export function toStoreError(err: unknown, operation: string, timeoutMs: number): ScaleoutError {
  if (err instanceof ScaleoutError) return err;
  const name = err instanceof Error ? err.constructor.name : '';
  if (TIMEOUT_ERRORS.has(name)) return new StoreTimeoutError(operation, timeoutMs);
  const message = err instanceof Error ? `${name}: ${err.message}` : String(err);
  return new StoreUnavailableError(`session store ${operation} failed: ${message}`, { cause: err });
}
