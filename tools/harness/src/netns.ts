// Network namespaces for tests that need several hosts on one machine (a VRRP pair, a client,
// app nodes), all joined by one bridge. Every name starts with `so<pid>-`, so a run removes what
// a crashed earlier run left behind (a prefix whose process is gone) and never touches the
// namespaces of another run that is still going.
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';
import { killOnExit } from './exit-hook.js';

const run = promisify(execFile);
const PREFIX = 'so';
const NEEDS = 'this test builds hosts from network namespaces: it needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2\'s `ip netns`; run it as root on Linux after `npm run provision`';

/** Runs `ip <args>`; rejects with ip's own message. */
export async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { timeout: 10_000 })).stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`ip ${args.join(' ')}: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

/** Throws (never skips) saying what is needed when namespaces cannot be made here. */
export async function requireNamespaces(): Promise<void> {
  if (process.platform !== 'linux') throw new Error(`${NEEDS} (this is ${process.platform})`);
  if (process.getuid?.() !== 0) throw new Error(`${NEEDS} (running as uid ${process.getuid?.()})`);
  const probe = `${PREFIX}${process.pid}-probe`;
  try {
    await ip('netns', 'add', probe);
  } catch (err) {
    throw new Error(`${NEEDS}: ${(err as Error).message}`, { cause: err });
  }
  await ip('netns', 'del', probe);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process inside namespace `ns` (SIGKILL) and deletes it. Synchronous: also runs on exit. */
function destroySync(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone already
      }
    }
  } catch {
    // no such namespace
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // no such namespace
  }
}

/** Removes the namespaces (and so their veths, bridge and processes) of runs whose process is gone. */
export async function removeLeftovers(): Promise<string[]> {
  const names = (await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
  const stale = names.filter((n) => {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(n);
    return m && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  });
  for (const ns of stale) destroySync(ns);
  return stale;
}

/** One host of a {@link Lan}: a namespace with one interface, `eth0`, on the bridge. */
export interface Host {
  name: string;
  /** The namespace's full name. */
  ns: string;
  /** Its address on the bridge. */
  addr: string;
}


/**
 * A bridge in its own namespace and hosts joined to it by veth pairs: `10.<net>.0.0/24`, no
 * address and no route in the namespace the test runs in. Removing it kills every process left
 * in its namespaces and deletes them; the veths and the bridge go with them.
 */
export class Lan {
  readonly prefix = `${PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  readonly hosts = new Map<string, Host>();
  readonly #sw = `${this.prefix}-sw`;
  readonly #created: string[] = [];
  readonly subnet: string;
  #removed = false;
  // An interrupted run still removes its namespaces, and so every process left in them.
  readonly #forget = killOnExit(() => this.removeSync());

  constructor(net = 77) {
    this.subnet = `10.${net}.0`;
  }

  /** Creates the bridge. */
  async start(): Promise<this> {
    await this.#addNs(this.#sw);
    await ip('-n', this.#sw, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', this.#sw, 'link', 'set', 'br0', 'up');
    return this;
  }

  async #addNs(ns: string): Promise<void> {
    await ip('netns', 'add', ns);
    this.#created.push(ns);
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  }

  /** Adds a host `name` with address `10.<net>.0.<last>`. */
  async addHost(name: string, last: number): Promise<Host> {
    const ns = `${this.prefix}-${name}`;
    const port = `p-${name}`.slice(0, 15);
    await this.#addNs(ns);
    // Both ends are made inside the namespaces: nothing appears in the test's own namespace.
    await ip('-n', this.#sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await ip('-n', this.#sw, 'link', 'set', port, 'master', 'br0', 'up');
    const addr = `${this.subnet}.${last}`;
    await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    const host = { name, ns, addr };
    this.hosts.set(name, host);
    return host;
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /** Spawns `command` inside the host's namespace (`ip netns exec`, which execs in place: the pid is the command's). */
  spawn(host: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const [ip, ...prefix] = this.wrap(host);
    return spawn(ip!, [...prefix, command, ...args], options);
  }

  /** The command line prefix that runs a command inside the host's namespace (for `nodeProcess({ wrap })`). */
  wrap(host: string): string[] {
    return ['ip', 'netns', 'exec', this.host(host).ns];
  }

  /** Runs a command inside the host's namespace to completion and returns its output. */
  async exec(host: string, command: string, ...args: string[]): Promise<string> {
    return ip('netns', 'exec', this.host(host).ns, command, ...args);
  }

  /** The IPv4 addresses on the host's eth0. */
  async addresses(host: string): Promise<string[]> {
    const out = await ip('-n', this.host(host).ns, '-4', '-o', 'addr', 'show', 'dev', 'eth0');
    return [...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!);
  }

  /** Every namespace this LAN made, for checks that nothing is left. */
  namespaces(): string[] {
    return [...this.#created];
  }

  /** Kills what runs in the namespaces and deletes them. Safe to call twice. */
  removeSync(): void {
    if (this.#removed) return;
    this.#removed = true;
    for (const ns of [...this.#created].reverse()) destroySync(ns);
    this.#forget();
  }

  async remove(): Promise<void> {
    this.removeSync();
  }
}
