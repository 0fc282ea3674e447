import { isIP } from 'node:net';
import { ConfigError, describeValue } from '@scaleout/core';
import type { ProxyConfig } from './config.js';

/** What the keepalived export needs besides the proxy's config: one machine of the pair. */
export interface KeepalivedOptions {
  /** The other proxy machine's address: adverts go there by unicast (`unicast_peer`), so no multicast is needed. */
  peer: string;
  /** The virtual address clients use, with an optional prefix length (`10.0.0.100/24`). */
  vip: string;
  /** This machine's VRRP priority, 1 to 254: the higher one holds the address when both are well. */
  priority: number;
  /** The interface that carries the address. @default "eth0" */
  interface?: string;
  /** Once the peer took the address over, do not take it back when this machine is well again. @default false */
  nopreempt?: boolean;
  /** Seconds between VRRP adverts; the peer takes over after about 3 of them are missed. @default 1 */
  advertInt?: number;
  /** `virtual_router_id`, 1 to 255, the same on both machines and unique on the network. @default 51 */
  routerId?: number;
  /** This machine's own address to send adverts from (`unicast_src_ip`). @default the interface's primary address */
  sourceIp?: string;
  /** Seconds between health checks of the local proxy. @default 1 */
  checkInterval?: number;
  /** Consecutive failed checks that give the address up. @default 2 */
  fall?: number;
  /** Consecutive passed checks before this machine may hold the address again. @default 2 */
  rise?: number;
  /**
   * User that runs the check. keepalived 2.2.7 (Debian 12) runs any other user's scripts, but
   * its config test (`keepalived -t`) kills itself when one is set (keepalived issue #2617);
   * the check is one GET to loopback. @default "root"
   */
  scriptUser?: string;
  /** The Node.js binary that runs the check. @default the one running this export */
  node?: string;
}

/** Defaults of the optional fields of {@link KeepalivedOptions}. */
export const DEFAULT_KEEPALIVED_OPTIONS = {
  /** Default of `interface`. */
  interface: 'eth0',
  /** Default of `nopreempt`. */
  nopreempt: false,
  /** Default of `advertInt`, in seconds. */
  advertInt: 1,
  /** Default of `routerId`. */
  routerId: 51,
  /** Default of `checkInterval`, in seconds. */
  checkInterval: 1,
  /** Default of `fall`. */
  fall: 2,
  /** Default of `rise`. */
  rise: 2,
  /** Default of `scriptUser`. */
  scriptUser: 'root',
} as const;

function refuse(field: string, value: unknown, allowed: string): never {
  throw new ConfigError(field, `keepalived export ${field}: got ${describeValue(value, field)}; ${allowed}`);
}

function intIn(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) refuse(field, value, `expected an integer from ${min} to ${max}`);
  return value;
}

// keepalived ends a word at whitespace and starts a comment at `#` or `!`: names given on the
// command line must not smuggle in another keyword.
const WORD = /^[A-Za-z0-9._@:/-]{1,64}$/;

/** The address the check can reach the local proxy on: never the VIP, which may be the peer's. */
function checkHost(config: ProxyConfig, vip: string): string {
  const host = config.host.replace(/^\[|\]$/g, '');
  if (host === '0.0.0.0' || host === 'localhost' || /^127\./.test(host)) return '127.0.0.1';
  if (host === '::' || host === '::1') return '[::1]';
  if (host === vip) refuse('host', config.host, 'expected the proxy to listen on 0.0.0.0 or this machine\'s own address, not the VIP: the check must reach the local proxy, not whichever machine holds the VIP');
  return isIP(host) === 6 ? `[${host}]` : host;
}

/**
 * A keepalived.conf for one of two proxy machines sharing a virtual address by VRRP. keepalived
 * runs a check against the local proxy's health endpoint; when it fails `fall` times (the proxy
 * died, is draining or has no target up) the instance enters FAULT, gives the address up and
 * tells the peer at once (an advert with priority 0), which takes it over. When the whole
 * machine dies, the peer takes over after 3 missed adverts plus its skew time
 * (`(256 - priority) / 256 × advert_int`). Both instances start as BACKUP: the higher priority
 * wins the first election, and `nopreempt` is only honoured from that state.
 */
export function exportKeepalived(config: ProxyConfig, options: KeepalivedOptions): string {
  const o = { ...DEFAULT_KEEPALIVED_OPTIONS, ...options };
  if (config.mode !== 'http' || !config.health.enabled) refuse('health.enabled', config.health.enabled, 'expected mode "http" with the health endpoint on: keepalived checks the proxy through it');
  const [vipAddr = '', prefix, ...extra] = String(o.vip).split('/');
  const family = isIP(vipAddr);
  if (!family || extra.length || (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)))) refuse('vip', o.vip, 'expected an IP address with an optional prefix length, such as 10.0.0.100/24');
  if (isIP(o.peer) !== family) refuse('peer', o.peer, `expected the peer's IPv${family} address (the same family as the VIP)`);
  if (o.peer === vipAddr) refuse('peer', o.peer, 'expected the other machine\'s own address, not the VIP');
  if (o.sourceIp !== undefined && isIP(o.sourceIp) !== family) refuse('sourceIp', o.sourceIp, `expected this machine's IPv${family} address`);
  intIn('priority', o.priority, 1, 254);
  intIn('routerId', o.routerId, 1, 255);
  intIn('advertInt', o.advertInt, 1, 255);
  intIn('checkInterval', o.checkInterval, 1, 3600);
  intIn('fall', o.fall, 1, 100);
  intIn('rise', o.rise, 1, 100);
  if (!WORD.test(o.interface)) refuse('interface', o.interface, 'expected an interface name such as eth0');
  if (!WORD.test(o.scriptUser)) refuse('scriptUser', o.scriptUser, 'expected a user name');
  const node = o.node ?? process.execPath;
  if (!/^\/[A-Za-z0-9._+/-]+$/.test(node)) refuse('node', node, 'expected an absolute path to the node binary without spaces');

  if (config.listen === 0) refuse('listen', 0, 'expected a fixed port: the check must know where the proxy listens');
  const url = `http://${checkHost(config, vipAddr)}:${config.listen}${config.health.path}`;
  // The check is a Node one-liner: Node is on the proxy machine by definition (it runs the
  // proxy), whereas curl or wget is neither in a minimal Debian nor a keepalived dependency.
  // Written without spaces or quotes, so keepalived passes it to `node -e` as one word.
  const timeoutMs = Math.max(200, o.checkInterval * 1000 - 200);
  const check = `fetch(\`${url}\`,{signal:AbortSignal.timeout(${timeoutMs})}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`;
  const vipWithPrefix = prefix === undefined ? vipAddr : `${vipAddr}/${prefix}`;
  const lines = [
    '# keepalived.conf written by `scaleout-proxy export keepalived`: one of the two proxy machines.',
    `# The peer's file has its own --peer (this machine's address) and usually a lower --priority.`,
    'global_defs {',
    `  script_user ${o.scriptUser}`,
    '  enable_script_security',
    '}',
    '',
    'vrrp_script chk_scaleout_proxy {',
    `  # 200 from ${config.health.path} while the proxy listens, is not draining and has a target up.`,
    `  script "${node} -e ${check}"`,
    `  interval ${o.checkInterval}`,
    `  timeout ${o.checkInterval + 1}`,
    `  fall ${o.fall}`,
    `  rise ${o.rise}`,
    '}',
    '',
    'vrrp_instance scaleout_proxy {',
    '  state BACKUP',
    `  interface ${o.interface}`,
    `  virtual_router_id ${o.routerId}`,
    `  priority ${o.priority}`,
    `  advert_int ${o.advertInt}`,
    ...(o.nopreempt ? ['  # Once the peer holds the address, it keeps it until it fails itself: no second move.', '  nopreempt'] : []),
    ...(o.sourceIp ? [`  unicast_src_ip ${o.sourceIp}`] : []),
    '  unicast_peer {',
    `    ${o.peer}`,
    '  }',
    '  virtual_ipaddress {',
    `    ${vipWithPrefix} dev ${o.interface}`,
    '  }',
    '  track_script {',
    '    chk_scaleout_proxy',
    '  }',
    '}',
    '',
  ];
  return lines.join('\n');
}
