import { ScaleoutError } from '@scaleout/core';

/** Stable codes of the sample cluster's own errors. */
export const SampleClusterErrorCodes = {
  /** A server the chosen strategy needs (redis-server, redis-sentinel, java + the Hazelcast jar) is not installed. */
  BACKEND_MISSING: 'ERR_SCALEOUT_SAMPLE_BACKEND_MISSING',
  /** A process did not start, or exited before it was ready. */
  START_FAILED: 'ERR_SCALEOUT_SAMPLE_START_FAILED',
  /** A command-line option was refused. */
  BAD_OPTION: 'ERR_SCALEOUT_SAMPLE_BAD_OPTION',
} as const;

/** A server the chosen strategy needs is missing; the message says how to get it. */
export class BackendMissingError extends ScaleoutError {
  constructor(what: string, options?: { cause?: unknown }) {
    super(SampleClusterErrorCodes.BACKEND_MISSING, `${what} is not installed; run: npm run provision (Debian/Ubuntu, as root), or install it yourself`, options);
    this.name = 'BackendMissingError';
  }
}

/** A process of the sample cluster did not start. */
export class StartFailedError extends ScaleoutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(SampleClusterErrorCodes.START_FAILED, message, options);
    this.name = 'StartFailedError';
  }
}

/** A command-line option was refused: names the option, the value and what is allowed. */
export class BadOptionError extends ScaleoutError {
  readonly option: string;
  constructor(option: string, value: unknown, allowed: string) {
    const shown = typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : String(value);
    super(SampleClusterErrorCodes.BAD_OPTION, `option ${option}: got ${shown}; ${allowed}`);
    this.name = 'BadOptionError';
    this.option = option;
  }
}
