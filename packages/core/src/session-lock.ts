import { ConfigError, LockTimeoutError } from './errors.js';
import { parseDuration, type Duration } from './duration.js';
import type { LockOptions, SessionStore } from './types.js';

interface Waiter {
  grant: () => void;
  timer: NodeJS.Timeout;
}

interface Held {
  token: number;
  expiry: NodeJS.Timeout;
  waiters: Waiter[];
}

/**
 * Per-key locks inside one process, with a bounded wait and an expiry (a holder that never
 * releases, for example a request whose handler threw away its promise, frees the lock after
 * `ttlMs`). Waiters are served in arrival order.
 */
export class LocalLocks {
  readonly #held = new Map<string, Held>();
  #next = 0;

  /** Takes the lock on `key`; resolves to its release function. */
  acquire(key: string, { ttlMs, waitMs }: LockOptions): Promise<() => Promise<void>> {
    const held = this.#held.get(key);
    if (!held) return Promise.resolve(this.#grant(key, ttlMs, []));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          resolve(this.#grant(key, ttlMs, held.waiters));
        },
        timer: setTimeout(() => {
          const i = held.waiters.indexOf(waiter);
          if (i >= 0) held.waiters.splice(i, 1);
          reject(new LockTimeoutError(waitMs));
        }, waitMs),
      };
      held.waiters.push(waiter);
    });
  }

  /** Keys currently locked. */
  get size(): number {
    return this.#held.size;
  }

  #grant(key: string, ttlMs: number, waiters: Waiter[]): () => Promise<void> {
    const token = ++this.#next;
    const expiry = setTimeout(() => this.#release(key, token), ttlMs);
    expiry.unref();
    this.#held.set(key, { token, expiry, waiters });
    return async () => this.#release(key, token);
  }

  #release(key: string, token: number): void {
    const held = this.#held.get(key);
    if (!held || held.token !== token) return; // expired and taken by another: not ours to free
    clearTimeout(held.expiry);
    this.#held.delete(key);
    held.waiters.shift()?.grant();
  }
}

/** The `lock` option of the Express and Koa layers. */
export type LockOption =
  | boolean
  | {
      /** Longest a lock is held; a holder that dies frees it after this. @default "10s" */
      ttl?: Duration;
      /** Longest a request waits for the lock before a 503 `ERR_SCALEOUT_LOCK_TIMEOUT`. @default "5s" */
      wait?: Duration;
    };

/** Defaults of the `lock` option: held at most 10 s, waited for at most 5 s. */
export const DEFAULT_LOCK = {
  /** ms; see {@link LockOption}. */
  ttl: 10_000,
  /** ms; see {@link LockOption}. */
  wait: 5_000,
} as const;

/**
 * Resolves the HTTP layers' `lock` option against a store, or `undefined` when locking is off.
 * Throws a `ConfigError` when the store cannot lock.
 */
export function resolveLockOption(lock: LockOption | undefined, store: SessionStore, kind: string): LockOptions | undefined {
  if (!lock) return undefined;
  if (!store.lock) throw new ConfigError('lock', `lock: the ${store.constructor.name} of the ${kind} strategy cannot lock sessions`);
  const o = lock === true ? {} : lock;
  return { ttlMs: parseDuration(o.ttl ?? DEFAULT_LOCK.ttl, 'lock.ttl'), waitMs: parseDuration(o.wait ?? DEFAULT_LOCK.wait, 'lock.wait') };
}
