/**
 * Coded errors of `@scaleout/proxy`. Callers match on `code`, never on the message.
 * @module
 */
import { ScaleoutError } from '@scaleout/core';

/** Stable error codes of `@scaleout/proxy`. */
export const ProxyErrorCodes = {
  /** No target can take the request (all down, or none left to retry on): 503. */
  NO_BACKEND: 'ERR_SCALEOUT_PROXY_NO_BACKEND',
  /** The target refused, reset or broke the connection, or answered garbage: 502. */
  BAD_GATEWAY: 'ERR_SCALEOUT_PROXY_BAD_GATEWAY',
  /** The target did not connect or answer in time: 504. */
  TIMEOUT: 'ERR_SCALEOUT_PROXY_TIMEOUT',
  /** The proxy was closed, or asked to listen twice. */
  STATE: 'ERR_SCALEOUT_PROXY_STATE',
} as const;

/** An upstream failure, with the HTTP status the client gets for it. */
export class ProxyError extends ScaleoutError {
  /** The status the client is answered with: 502, 503 or 504. */
  readonly status: 502 | 503 | 504;
  /** The target involved, when there was one. */
  readonly targetId: string | undefined;
  constructor(code: string, status: 502 | 503 | 504, message: string, targetId?: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ProxyError';
    this.status = status;
    this.targetId = targetId;
  }
}

/** No target is available: every one is down, drained or already tried. */
export const noBackend = (why: string) => new ProxyError(ProxyErrorCodes.NO_BACKEND, 503, why);

/** The target broke the exchange (refused, reset, closed mid-response, bad headers). */
export const badGateway = (targetId: string, cause: unknown) =>
  new ProxyError(ProxyErrorCodes.BAD_GATEWAY, 502, `target ${targetId} failed: ${(cause as Error)?.message ?? String(cause)}`, targetId, { cause });

/** The target did not connect or answer within the configured time. */
export const gatewayTimeout = (targetId: string, what: string, ms: number) =>
  new ProxyError(ProxyErrorCodes.TIMEOUT, 504, `target ${targetId}: ${what} took longer than ${ms} ms`, targetId);

/** The proxy is closed or already listening. */
export const stateError = (message: string) => new ProxyError(ProxyErrorCodes.STATE, 503, message);
