import { ConfigError } from '@scaleout/core';
import type { KeepalivedOptions } from './export-keepalived.js';

/** The command-line flags of `export keepalived`, for `parseArgs`. */
export const KEEPALIVED_ARGS = {
  peer: { type: 'string' },
  vip: { type: 'string' },
  priority: { type: 'string' },
  interface: { type: 'string' },
  nopreempt: { type: 'boolean' },
  'advert-int': { type: 'string' },
  'router-id': { type: 'string' },
  'source-ip': { type: 'string' },
  'script-user': { type: 'string' },
} as const;

export const KEEPALIVED_USAGE = `  scaleout-proxy export keepalived --config proxy.json --peer <addr> --vip <addr[/len]> --priority <1-254>
      [--interface eth0] [--nopreempt] [--advert-int 1] [--router-id 51] [--source-ip <addr>] [--script-user root]
                                                   print keepalived.conf for one of two proxy machines`;

type Values = { [K in keyof typeof KEEPALIVED_ARGS]?: (typeof KEEPALIVED_ARGS)[K]['type'] extends 'boolean' ? boolean : string };

function num(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new ConfigError(flag, `--${flag}: got ${JSON.stringify(value)}; expected a whole number`);
  return Number(value);
}

/** The export's options from the command line; a missing required flag throws `ConfigError` naming it. */
export function keepalivedOptions(values: Values): KeepalivedOptions {
  for (const flag of ['peer', 'vip', 'priority'] as const) {
    if (values[flag] === undefined) throw new ConfigError(flag, `export keepalived needs --${flag}`);
  }
  const o: KeepalivedOptions = { peer: values.peer!, vip: values.vip!, priority: num('priority', values.priority)! };
  if (values.interface !== undefined) o.interface = values.interface;
  if (values.nopreempt) o.nopreempt = true;
  const advertInt = num('advert-int', values['advert-int']);
  if (advertInt !== undefined) o.advertInt = advertInt;
  const routerId = num('router-id', values['router-id']);
  if (routerId !== undefined) o.routerId = routerId;
  if (values['source-ip'] !== undefined) o.sourceIp = values['source-ip'];
  if (values['script-user'] !== undefined) o.scriptUser = values['script-user'];
  return o;
}
