/**
 * Coded errors of `@scaleout/balancer`. Callers match on `code`, never on the message.
 * Values in messages are shown by core's `describeValue`, so a refused endpoint URL never prints
 * its credentials.
 * @module
 */
import { describeValue as describeCoreValue, ScaleoutError } from '@scaleout/core';

/** Stable error codes of `@scaleout/balancer`. */
export const BalancerErrorCodes = {
  /** A constructor option or argument was refused; `field` names it. */
  CONFIG: 'ERR_SCALEOUT_BALANCER_CONFIG',
  /** No endpoint could take the request (empty set, all excluded, all drained). */
  NO_ENDPOINT: 'ERR_SCALEOUT_NO_ENDPOINT',
  /** A retry was needed but the retry budget was spent; `cause` is the last failure. */
  RETRY_BUDGET: 'ERR_SCALEOUT_RETRY_BUDGET',
  /** Every try failed at the connection level (or timed out); `cause` is the last failure. */
  UPSTREAM: 'ERR_SCALEOUT_UPSTREAM',
  /** A try did not get response headers within its per-try timeout. */
  TIMEOUT: 'ERR_SCALEOUT_BALANCER_TIMEOUT',
  /** The balancer was closed. */
  CLOSED: 'ERR_SCALEOUT_BALANCER_CLOSED',
  /** A balancer's metrics were registered twice on one registry (the same code as core's). */
  METRICS_REGISTERED: 'ERR_SCALEOUT_METRICS_REGISTERED',
} as const;

/** One of the codes in {@link BalancerErrorCodes}. */
export type BalancerErrorCode = (typeof BalancerErrorCodes)[keyof typeof BalancerErrorCodes];

/** Base class of every error the balancer throws: a `ScaleoutError`, as in every package. */
export class BalancerError extends ScaleoutError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'BalancerError';
  }
}

/** An option or argument was refused at construction or call time. `field` is its dotted path. */
export class BalancerConfigError extends BalancerError {
  /** The dotted path of the option or argument refused. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(BalancerErrorCodes.CONFIG, message);
    this.name = 'BalancerConfigError';
    this.field = field;
  }
}

/** No endpoint was available for a pick. */
export class NoEndpointError extends BalancerError {
  constructor(message = 'no endpoint is available', options?: { cause?: unknown }) {
    super(BalancerErrorCodes.NO_ENDPOINT, message, options);
    this.name = 'NoEndpointError';
  }
}

/** A retry was refused by the retry budget. */
export class RetryBudgetError extends BalancerError {
  constructor(cause: unknown) {
    super(BalancerErrorCodes.RETRY_BUDGET, 'the request failed and the retry budget is spent', { cause });
    this.name = 'RetryBudgetError';
  }
}

/** Every try failed before a response arrived. */
export class UpstreamError extends BalancerError {
  /** How many tries were made. */
  readonly tries: number;
  constructor(tries: number, cause: unknown) {
    super(BalancerErrorCodes.UPSTREAM, `the request failed after ${tries} ${tries === 1 ? 'try' : 'tries'}`, { cause });
    this.name = 'UpstreamError';
    this.tries = tries;
  }
}

/** One try ran past its per-try timeout. */
export class TryTimeoutError extends BalancerError {
  /** The per-try timeout that ran out, in ms. */
  readonly timeoutMs: number;
  constructor(timeoutMs: number, endpointId: string) {
    super(BalancerErrorCodes.TIMEOUT, `no response from ${endpointId} within ${timeoutMs} ms`);
    this.name = 'TryTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Shows a value in an error message without flooding the log or leaking a URL's credentials:
 * core's rule, with numbers shown as written (NaN, Infinity) and functions by kind, not source.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'function') return '[function]';
  return describeCoreValue(value);
}

/** Throws a `BalancerConfigError` naming the field, the value and what is allowed. */
export function refuse(field: string, value: unknown, allowed: string): never {
  throw new BalancerConfigError(field, `${field}: ${describeValue(value)} is not allowed; ${allowed}`);
}
