import { StoreTimeoutError } from './errors.js';

/**
 * Resolves or rejects as `promise` does, or rejects with `StoreTimeoutError` after `ms`.
 * The timer is cleared either way, so nothing is left to keep the process alive.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, operation: string): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeoutError(operation, ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
