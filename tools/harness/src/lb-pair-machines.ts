// The machines of an LbPair (lb-pair.ts) other than the app nodes: keepalived and the proxy on
// each proxy machine, and the client machine that drives the load.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killOnExit } from './exit-hook.js';
import { keepalivedBinary } from './keepalived.js';
import type { LoadReport, LoadSpec } from './lb-client.js';
import type { Lan } from './netns.js';
import { nodeProcess, type NodeProcess } from './node-process.js';
import { eventually } from './ports.js';
import { killGroup } from './process-group.js';

export type Lb = 'lb1' | 'lb2';

/** The repository's root: where the machines' Node.js processes run. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The proxy's command line, run as operators run it. */
export const PROXY_BIN = fileURLToPath(new URL('../../../packages/proxy/bin/scaleout-proxy.js', import.meta.url));

/** keepalived on one proxy machine, in its own process group (it forks a VRRP child). */
export class Keepalived {
  proc: ChildProcess | undefined;
  log = '';
  constructor(readonly lan: Lan, readonly lb: Lb, readonly conf: string, readonly dir: string) {}

  async start(): Promise<void> {
    this.log = '';
    const p = (n: string) => join(this.dir, `${this.lb}-${n}.pid`);
    // -n: stay in the foreground; -l: log to the console; -P: VRRP only; own pid files, so two
    // daemons can run on one machine. detached: its own process group, killed as one.
    const proc = this.lan.spawn(this.lb, keepalivedBinary(), ['-n', '-l', '-P', '-f', this.conf, '-p', p('main'), '-r', p('vrrp')], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.proc = proc;
    const forget = killOnExit(() => void (proc.pid !== undefined && killGroup(proc.pid, 'SIGKILL')));
    proc.once('exit', forget);
    const keep = (c: Buffer) => (this.log = (this.log + c.toString()).slice(-20_000));
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    await eventually(() => this.log.includes('Startup complete') || this.proc!.exitCode !== null, 10_000, `keepalived on ${this.lb} started`);
    if (this.proc.exitCode !== null) throw new Error(`keepalived on ${this.lb} exited with ${this.proc.exitCode}:\n${this.log}`);
  }

  /** Resolves once the instance logs `Entering <state> STATE` after log offset `from`. */
  async state(state: 'MASTER' | 'BACKUP' | 'FAULT', from: number, timeoutMs = 15_000): Promise<void> {
    await eventually(() => this.log.slice(from).includes(`Entering ${state} STATE`), timeoutMs, `keepalived on ${this.lb} entering ${state}`);
  }

  /** SIGKILL to the daemon and its VRRP child at once, as a machine that dies: no last advert. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    process.kill(-proc.pid!, 'SIGKILL');
    await exited;
  }
}

/** `scaleout-proxy` on one proxy machine. */
export class ProxyProcess {
  readonly proc: NodeProcess;
  constructor(readonly lan: Lan, readonly lb: Lb, config: string, port: number) {
    const host = lan.host(lb);
    this.proc = nodeProcess({ name: `scaleout-proxy on ${lb}`, script: PROXY_BIN, args: ['--config', config], cwd: ROOT, wrap: lan.wrap(lb), host: host.addr, port, ready: /listening on/, readyTimeoutMs: 30_000 });
  }

  start(): Promise<void> {
    return this.proc.start();
  }

  /** Its exit code after its last exit (null while it runs). */
  get exitCode(): number | null {
    return this.proc.exitCode;
  }

  /** Sends `signal`; waits for the exit, except for SIGUSR2 (drain), after which it keeps serving. */
  async signal(signal: NodeJS.Signals): Promise<void> {
    if (signal === 'SIGUSR2') return this.proc.signal(signal);
    await this.proc.kill(signal);
  }
}

/** The client machine: a process in the client namespace, driven over IPC. */
export class ClientHost {
  constructor(readonly proc: NodeProcess) {}

  #ask<T extends { type: string }>(msg: object, reply: string): Promise<T> {
    const answer = this.proc.message<T>((m) => m.type === reply);
    this.proc.send(msg);
    return answer;
  }

  get(url: string): Promise<{ status?: number; body?: string; peer?: string; error?: string }> {
    return this.#ask<{ type: string; status?: number; body?: string; peer?: string; error?: string }>({ type: 'get', url }, 'got');
  }

  async startLoad(spec: LoadSpec): Promise<void> {
    await this.#ask({ type: 'load', ...spec }, 'loading');
  }

  async stopLoad(): Promise<LoadReport> {
    return (await this.#ask<{ type: string; report: LoadReport }>({ type: 'stop' }, 'stopped')).report;
  }
}

