import { StoreTimeoutError } from './errors.js';

/**
 * Resolves or rejects as `promise` does, or rejects with `StoreTimeoutError` after `ms`.
 * The timer is cleared either way, so nothing is left to keep the process alive.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, operation: string): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return promise;
  return timed(promise, ms, operation);
}

/** {@link withTimeout} unless `store` is local (its operations cannot hang). */
export function storeCall<T>(store: { readonly local?: boolean }, promise: Promise<T>, ms: number, operation: string): Promise<T> {
  return store.local === true ? promise : withTimeout(promise, ms, operation);
}

function timed<T>(promise: Promise<T>, ms: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeoutError(operation, ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
