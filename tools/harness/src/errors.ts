import { redactCredentials, ScaleoutError } from '@scaleout/core';

/** Stable codes of the harness's errors. */
export const HarnessErrorCodes = {
  /** A program a server needs (redis-server, java, haproxy…) or the Hazelcast jar is not installed. */
  SERVER_MISSING: 'ERR_SCALEOUT_HARNESS_SERVER_MISSING',
  /** A process did not start, or exited before it was ready. */
  START_FAILED: 'ERR_SCALEOUT_HARNESS_START_FAILED',
  /** A started server did not answer a question the harness asked it (no Sentinel answered). */
  UNAVAILABLE: 'ERR_SCALEOUT_HARNESS_UNAVAILABLE',
  /** A condition awaited with `eventually()` did not hold in time. */
  TIMEOUT: 'ERR_SCALEOUT_HARNESS_TIMEOUT',
  /** A server could not bind its port: another process took it after the harness found it free. */
  PORT_IN_USE: 'ERR_SCALEOUT_HARNESS_PORT_IN_USE',
} as const;

/** What to run to install every server the tests, examples and fault matrix start. */
export const PROVISION_HINT = 'run: npm run provision (bash scripts/provision.sh; as root on Debian/Ubuntu)';

/**
 * Base of the harness's errors: core's `ScaleoutError` with a harness code, its message under
 * core's redaction rule, since it often quotes a process's output, which may print a URL with
 * its password.
 */
export class HarnessError extends ScaleoutError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, redactCredentials(message), options);
    this.name = 'HarnessError';
  }
}

/** A server's program is missing; the message says how to provision it. `what` names it. */
export class ServerMissingError extends HarnessError {
  /** The program or file that is missing. */
  readonly what: string;
  constructor(what: string, options?: { cause?: unknown }) {
    super(HarnessErrorCodes.SERVER_MISSING, `${what} is not installed; ${PROVISION_HINT}`, options);
    this.name = 'ServerMissingError';
    this.what = what;
  }
}

/** A process did not start, or exited before it was ready. */
export class StartFailedError extends HarnessError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(HarnessErrorCodes.START_FAILED, message, options);
    this.name = 'StartFailedError';
  }
}

/** A started server did not answer. */
export class ServerUnavailableError extends HarnessError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(HarnessErrorCodes.UNAVAILABLE, message, options);
    this.name = 'ServerUnavailableError';
  }
}

/** A condition did not hold in time; `cause` is the last error its check threw, if any. */
export class ConditionTimeoutError extends HarnessError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(HarnessErrorCodes.TIMEOUT, message, options);
    this.name = 'ConditionTimeoutError';
  }
}

/** A server could not bind `port`: another process took it after the harness found it free. */
export class PortInUseError extends HarnessError {
  readonly port: number;
  constructor(name: string, port: number, output: string, options?: { cause?: unknown }) {
    super(HarnessErrorCodes.PORT_IN_USE, `${name} could not bind port ${port}, taken by another process\n${output}`, options);
    this.name = 'PortInUseError';
    this.port = port;
  }
}

// What redis-server, redis-sentinel, Hazelcast (java.net.BindException), HAProxy, nginx and
// Node.js print when their port is taken.
const ADDRESS_IN_USE = /EADDRINUSE|Address already in use|address in use/i;

/** True when a server's output says its address was in use. */
export function saysAddressInUse(output: string): boolean {
  return ADDRESS_IN_USE.test(output);
}
