import { ConfigError, parseDuration as parseCoreDuration, type Duration } from '@scaleout/core';
import { BalancerConfigError } from './errors.js';

export type { Duration };

/**
 * Parses a duration into whole milliseconds with core's one grammar (a number of ms, or a string
 * such as `'500ms'`, `'5s'`, `'2m'`, `'1h'`, `'1d'`), or throws a `BalancerConfigError` naming
 * `field`, so balancer options keep their own error code.
 */
export function parseDuration(value: unknown, field: string): number {
  try {
    return parseCoreDuration(value, field);
  } catch (err) {
    if (err instanceof ConfigError) throw new BalancerConfigError(field, err.message);
    throw err;
  }
}
