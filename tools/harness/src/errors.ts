import { ScaleoutError } from '@scaleout/core';

/** Stable codes of the harness's errors. */
export const HarnessErrorCodes = {
  /** A program a server needs (redis-server, java, haproxy…) or the Hazelcast jar is not installed. */
  SERVER_MISSING: 'ERR_SCALEOUT_HARNESS_SERVER_MISSING',
  /** A process did not start, or exited before it was ready. */
  START_FAILED: 'ERR_SCALEOUT_HARNESS_START_FAILED',
  /** A server could not bind its port: another process took it after the harness found it free. */
  PORT_IN_USE: 'ERR_SCALEOUT_HARNESS_PORT_IN_USE',
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

/** A server could not bind `port`: another process took it after the harness found it free. */
export class PortInUseError extends ScaleoutError {
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
