import type { Endpoint } from './endpoint.js';
import { TryTimeoutError } from './errors.js';

/** How one try ended. Exactly one of `response` and `error` is set. */
export interface TryResult {
  /** The endpoint tried. */
  endpoint: Endpoint;
  /** The endpoint's response, whatever its status. */
  response?: Response;
  /** Why the try got no response. */
  error?: unknown;
  /**
   * Why there is no response: 'network' (connection error or timeout: the endpoint's fault),
   * 'aborted' (the caller's signal), 'cancelled' (a lost hedge, a closing balancer),
   * 'request' (fetch refused the request itself: the caller's fault, never retried).
   */
  failure?: 'network' | 'aborted' | 'cancelled' | 'request';
  /** Time to the response headers, or to the failure. */
  latencyMs: number;
}

/** A try in progress. */
export interface Attempt {
  /** The endpoint being tried. */
  readonly endpoint: Endpoint;
  /** Settles when the try ends; never rejects (a failure is in the result). */
  readonly result: Promise<TryResult>;
  /** Abandons the try (a lost hedge, close()); a response that already arrived has its body discarded. */
  cancel(reason?: unknown): void;
}

/** Request init as handed to Node's fetch. */
export type TryInit = RequestInit & { duplex?: 'half' };

/**
 * Runs one fetch against one endpoint, accounting it on the endpoint: in flight until the response
 * headers arrive (or the try fails), then its latency, status or failure goes to the endpoint's
 * EWMA and outlier counters. The per-try timeout covers the wait for headers; the caller's signal
 * stays linked to the body.
 */
export function startAttempt(endpoint: Endpoint, url: string, init: TryInit, timeoutMs: number, callerSignal: AbortSignal | undefined, isFailure: (status: number) => boolean): Attempt {
  const release = endpoint.begin();
  const ac = new AbortController();
  let cancelled = false;
  let response: Response | undefined;
  const timer = setTimeout(() => ac.abort(new TryTimeoutError(timeoutMs, endpoint.id)), timeoutMs);
  const signal = callerSignal ? AbortSignal.any([callerSignal, ac.signal]) : ac.signal;
  const start = performance.now();

  const result = fetch(url, { ...init, signal }).then(
    (res): TryResult => {
      clearTimeout(timer);
      const latencyMs = performance.now() - start;
      if (cancelled) {
        release({ ok: true, latencyMs, cancelled: true });
        void res.body?.cancel().catch(() => {});
        return { endpoint, failure: 'cancelled', error: ac.signal.reason, latencyMs };
      }
      response = res;
      release({ ok: !isFailure(res.status), latencyMs, status: res.status });
      return { endpoint, response: res, latencyMs };
    },
    (err: unknown): TryResult => {
      clearTimeout(timer);
      const latencyMs = performance.now() - start;
      if (callerSignal?.aborted) {
        release({ ok: false, latencyMs, cancelled: true });
        return { endpoint, error: callerSignal.reason, failure: 'aborted', latencyMs };
      }
      if (cancelled) {
        release({ ok: false, latencyMs, cancelled: true });
        return { endpoint, error: ac.signal.reason, failure: 'cancelled', latencyMs };
      }
      const reason = ac.signal.aborted ? ac.signal.reason : err;
      if (reason instanceof TryTimeoutError || isNetworkError(err)) {
        release({ ok: false, latencyMs });
        return { endpoint, error: reason, failure: 'network', latencyMs };
      }
      release({ ok: false, latencyMs, cancelled: true });
      return { endpoint, error: err, failure: 'request', latencyMs };
    },
  );

  return {
    endpoint,
    result,
    cancel(reason?: unknown) {
      if (cancelled) return;
      cancelled = true;
      if (response) void response.body?.cancel().catch(() => {});
      else ac.abort(reason);
    },
  };
}

/**
 * Node's fetch reports a network failure as `TypeError('fetch failed')` with the socket error as
 * `cause`; anything else it throws (a bad header, a bad method) is about the request itself.
 */
function isNetworkError(err: unknown): boolean {
  return err instanceof TypeError && err.cause !== undefined;
}
