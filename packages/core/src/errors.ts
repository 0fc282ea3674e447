/**
 * Coded errors of scaleout. Callers match on `code`, never on the message.
 * @module
 */

/** Stable error codes of `@scaleout/core`. */
export const ErrorCodes = {
  /** A configuration value was refused. */
  CONFIG: 'ERR_SCALEOUT_CONFIG',
  /** The session backend cannot be reached. */
  STORE_UNAVAILABLE: 'ERR_SCALEOUT_STORE_UNAVAILABLE',
  /** A store operation did not finish within its timeout. */
  STORE_TIMEOUT: 'ERR_SCALEOUT_STORE_TIMEOUT',
  /** A store was used after `close()`. */
  STORE_CLOSED: 'ERR_SCALEOUT_STORE_CLOSED',
  /** A public function was given an unacceptable argument. */
  INVALID_ARGUMENT: 'ERR_SCALEOUT_INVALID_ARGUMENT',
  /** The config needs an optional package that is not installed. */
  MISSING_PACKAGE: 'ERR_SCALEOUT_MISSING_PACKAGE',
  /** A cluster node did not get its snapshot in time. */
  NOT_READY: 'ERR_SCALEOUT_NOT_READY',
  /** A replication transport failed. */
  TRANSPORT: 'ERR_SCALEOUT_TRANSPORT',
  /** A lock was not acquired in time. */
  LOCK_TIMEOUT: 'ERR_SCALEOUT_LOCK_TIMEOUT',
  /** A session save failed. */
  SAVE_FAILED: 'ERR_SCALEOUT_SAVE_FAILED',
  /** `metrics()` was called twice on one registry for the same instance. */
  METRICS_REGISTERED: 'ERR_SCALEOUT_METRICS_REGISTERED',
} as const;

/** One of the values of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Base class of every error scaleout throws. */
export class ScaleoutError extends Error {
  /** A stable, documented code such as `ERR_SCALEOUT_CONFIG`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'ScaleoutError';
  }
}

/** A replication transport could not start or publish, lost its connection, or was closed. */
export class TransportError extends ScaleoutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.TRANSPORT, message, options);
    this.name = 'TransportError';
  }
}

/** A configuration value was refused. `field` is its dotted path. */
export class ConfigError extends ScaleoutError {
  /** Dotted path of the refused field, such as `store.url`. */
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.CONFIG, message, options);
    this.name = 'ConfigError';
    this.field = field;
  }
}

/** The session backend cannot be reached (down, refused, or closed). */
export class StoreUnavailableError extends ScaleoutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.STORE_UNAVAILABLE, message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** A store operation did not finish within its timeout. */
export class StoreTimeoutError extends ScaleoutError {
  /** The timeout that passed, in ms. */
  readonly timeoutMs: number;
  constructor(operation: string, timeoutMs: number) {
    super(ErrorCodes.STORE_TIMEOUT, `session store ${operation} did not finish within ${timeoutMs} ms`);
    this.name = 'StoreTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** An argument given to a public function is not acceptable. */
export class InvalidArgumentError extends ScaleoutError {
  /** Name of the refused argument or option. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(ErrorCodes.INVALID_ARGUMENT, message);
    this.name = 'InvalidArgumentError';
    this.field = field;
  }
}

/** An optional package that the config asks for is not installed. */
export class MissingPackageError extends ScaleoutError {
  /** The package to install. */
  readonly packageName: string;
  constructor(packageName: string, why: string, options?: { cause?: unknown }) {
    super(ErrorCodes.MISSING_PACKAGE, `${why} needs the package ${packageName}: run \`npm install ${packageName}\``, options);
    this.name = 'MissingPackageError';
    this.packageName = packageName;
  }
}

/** A per-session lock could not be had within its wait. */
export class LockTimeoutError extends ScaleoutError {
  constructor(waitMs: number) {
    super(ErrorCodes.LOCK_TIMEOUT, `the session lock was not free within ${waitMs} ms`);
    this.name = 'LockTimeoutError';
  }
}

/**
 * True when `err` is a scaleout error meaning the backend is unreachable or too slow. Decided by
 * `code`, not `instanceof`: an app may hold two copies of this package (a CommonJS and an ES
 * module one, or two versions), and an error from one must still be recognised by the other.
 */
export function isUnavailable(err: unknown): err is ScaleoutError {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return err instanceof Error && (code === ErrorCodes.STORE_UNAVAILABLE || code === ErrorCodes.STORE_TIMEOUT || code === ErrorCodes.STORE_CLOSED);
}

/** Shows a value in an error message without leaking secrets or flooding the log. */
export function describeValue(value: unknown, field = ''): string {
  if (/secret|password|token|key/i.test(field)) return '[redacted]';
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : value === undefined ? 'undefined' : JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  text = redactCredentials(text);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * `text` with the user-info part of every URL in it (`redis://user:password@host`) replaced by
 * `[redacted]`: the one rule every package applies before a URL, or output that may hold one,
 * goes into an error message or a log.
 */
export function redactCredentials(text: string): string {
  // Greedy up to the last '@' of the line: a password may hold '/', quotes or spaces, and
  // over-redacting is safe; a line ends it, so a process's output keeps its other lines.
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/).*@/gi, '$1[redacted]@');
}
