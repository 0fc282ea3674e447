/**
 * How a request's session ended up, as `scaleout_session_requests_total{outcome}` counts it:
 * `loaded` / `new` when it was opened, `saved` / `unchanged` when it was committed, a 503 by its
 * cause, `lock_timeout` when the session lock was not free in time, `abandoned` when the client
 * left before the save (nothing written).
 */
export type SessionOutcome = 'loaded' | 'new' | 'saved' | 'unchanged' | '503_unavailable' | '503_timeout' | 'lock_timeout' | 'abandoned';

/**
 * What the session engine tells an observer (metrics, traces). Set on the strategy
 * (`strategy.observer`, as `metrics()` does); without one the engine reads no clock.
 * Durations are in seconds. Calls are synchronous and must not throw.
 */
export interface SessionObserver {
  /** A request reached an outcome. */
  outcome(outcome: SessionOutcome): void;
  /** A load finished (`outcome` loaded or new, or the failure's), after `seconds` in the store. */
  load(seconds: number, outcome: SessionOutcome | 'error'): void;
  /** A save or touch finished after `seconds` (`outcome` saved, or the failure's). */
  save(seconds: number, outcome: SessionOutcome | 'error'): void;
  /** The session lock was waited for (got or not) for `seconds`. */
  lockWait(seconds: number): void;
}

/** The outcome of a failed load or save: which 503, or a lock timeout; `undefined` for other errors. */
export function failureOutcome(err: unknown): SessionOutcome | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (code === 'ERR_SCALEOUT_STORE_TIMEOUT') return '503_timeout';
  if (code === 'ERR_SCALEOUT_STORE_UNAVAILABLE' || code === 'ERR_SCALEOUT_STORE_CLOSED') return '503_unavailable';
  if (code === 'ERR_SCALEOUT_LOCK_TIMEOUT') return 'lock_timeout';
  return undefined;
}
