import { ScaleoutError } from '@scaleout/core';

/** Stable codes of the harness's errors. */
export const HarnessErrorCodes = {
  /** A program a server needs (redis-server, java, haproxy…) or the Hazelcast jar is not installed. */
  SERVER_MISSING: 'ERR_SCALEOUT_HARNESS_SERVER_MISSING',
  /** A process did not start, or exited before it was ready. */
  START_FAILED: 'ERR_SCALEOUT_HARNESS_START_FAILED',
} as const;

/** What to run to install every server the tests, examples and fault matrix start. */
export const PROVISION_HINT = 'run: npm run provision (bash scripts/provision.sh; as root on Debian/Ubuntu)';

/** A server's program is missing; the message says how to provision it. `what` names it. */
export class ServerMissingError extends ScaleoutError {
  readonly what: string;
  constructor(what: string, options?: { cause?: unknown }) {
    super(HarnessErrorCodes.SERVER_MISSING, `${what} is not installed; ${PROVISION_HINT}`, options);
    this.name = 'ServerMissingError';
    this.what = what;
  }
}

/** A process did not start, or exited before it was ready. */
export class StartFailedError extends ScaleoutError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(HarnessErrorCodes.START_FAILED, message, options);
    this.name = 'StartFailedError';
  }
}
