import { RetryBudget } from '@scaleout/balancer';
import type { ProxyConfig } from './config.js';

// Errors raised before a connection to the node existed: not one byte of the request reached it.
const NEVER_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** True when an error code says the connection to the node was never made. */
export function neverConnected(code: string | undefined): boolean {
  return NEVER_CONNECTED.has(code ?? '');
}

/**
 * The one rule for trying another node, shared by the HTTP, WebSocket and TCP paths: only when
 * nothing of the request reached the node (so it cannot have acted on it), at most `retries`
 * times per request, and within a retry budget over all requests (Finagle's: `ratio` of the
 * requests plus `minPerSecond`), so that a dying node cannot double the load on the others.
 */
export class RetryPolicy {
  readonly #retries: number;
  readonly #budget: RetryBudget;

  constructor(config: Pick<ProxyConfig, 'retries' | 'retryBudget'>) {
    this.#retries = config.retries;
    this.#budget = new RetryBudget(config.retryBudget.ratio, config.retryBudget.minPerSecond, 10_000);
  }

  /** Counts one client request or connection (not each try). */
  request(): void {
    this.#budget.deposit();
  }

  /** Whether try `n` (0 for the first) may be followed by another, given whether the failed one reached its node. */
  mayRetry(n: number, reachedNode: boolean): boolean {
    return !reachedNode && n < this.#retries && this.#budget.tryWithdraw();
  }

  /** Retries refused by the budget since the start. */
  get refused(): number {
    return this.#budget.stats().refused;
  }
}
