import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { debuglog } from 'node:util';
import { ServerMissingError, StartFailedError } from './errors.js';
import { killOnExit } from './exit-hook.js';
import { TSX_ARGV } from './node-process.js';

const debug = debuglog('scaleout:harness-process-group');

/** One process started in its own process group. */
export interface ManagedProcessSpec {
  /** Name in logs and messages (`node-1`, `redis :6379`). */
  name: string;
  /** `node`: a TypeScript entry point run by this Node.js with tsx; `exec`: any program. */
  kind: 'node' | 'exec';
  /** The script (kind `node`) or the program (kind `exec`). */
  command: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logFile: string;
  /** What is missing when the program is not installed (the error names it). */
  missing?: string;
}

// A non-Node server (redis-server, java) cannot watch its parent, so a tiny shell sits between:
// it runs the server in the background and blocks reading its stdin, a pipe from the parent.
// When the parent dies for any reason the pipe closes, the read returns and the server is
// killed. Background jobs of a non-interactive shell get /dev/null as stdin, so the pipe is
// kept as fd 3 first.
const GUARD = [
  'exec 3<&0',
  '"$@" 3<&- & c=$!',
  '{ read _ <&3; kill -KILL $c 2>/dev/null; } &',
  'w=$!',
  "trap 'kill -TERM $c 2>/dev/null' TERM INT",
  'wait $c; s=$?',
  'kill $w 2>/dev/null',
  'exit $s',
].join('\n');

/** Sends `signal` to every process of the group `pgid`; false when none is left. */
export function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True while any process of the group `pgid` exists. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True while the process `pid` exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The last lines a process wrote: the run folder may be gone by the time a user reads a message. */
export function logTail(file: string, lines = 12): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `  | ${l}`).join('\n');
  } catch {
    return `  (no log at ${file})`;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A child in its own process group (so that a kill reaches whatever it started), with a
 * heartbeat that ends it when its parent dies: the IPC channel for Node.js children, the
 * stdin pipe of the shell guard for the others. Output goes to a log file, so it outlives the
 * parent (the sample cluster's run folder keeps it).
 */
export class ManagedProcess {
  readonly spec: ManagedProcessSpec;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(spec: ManagedProcessSpec) {
    this.spec = spec;
  }

  /** The pid of the group leader (the Node.js process, or the guard shell). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get alive(): boolean {
    const c = this.#child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Starts (or starts again) the process. Resolves once spawned; readiness is the caller's test. */
  async start(): Promise<void> {
    if (this.alive) return;
    const s = this.spec;
    const fd = openSync(s.logFile, 'a');
    let child: ChildProcess;
    try {
      child =
        s.kind === 'node'
          ? spawn(process.execPath, [...TSX_ARGV, s.command, ...(s.args ?? [])], {
              cwd: s.cwd,
              env: s.env ?? process.env,
              detached: true,
              stdio: ['ignore', fd, fd, 'ipc'],
            })
          : spawn('sh', ['-c', GUARD, 'scaleout-guard', s.command, ...(s.args ?? [])], {
              cwd: s.cwd,
              env: s.env ?? process.env,
              detached: true,
              stdio: ['pipe', fd, fd],
            });
    } finally {
      closeSync(fd);
    }
    this.#child = child;
    const pgid = child.pid;
    const forget = killOnExit(() => void (pgid !== undefined && killGroup(pgid, 'SIGKILL')));
    // The parent's own event loop must not wait for its children.
    child.unref();
    (child.stdin as { unref?: () => void } | null)?.unref?.();
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        debug('%s exited (%s)', s.name, signal ?? code);
        forget();
        resolve();
      });
      child.once('error', () => resolve());
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(new StartFailedError(`${s.name}: ${err.message}`, { cause: err })));
    });
    if (s.kind === 'exec') {
      // The guard started; whether the program itself exists shows as exit code 127 at once.
      const early = await Promise.race([this.#exited.then(() => child.exitCode), sleep(150).then(() => undefined)]);
      if (early === 127) throw new ServerMissingError(s.missing ?? s.command);
    }
  }

  /** Sends `signal` to the whole group. Safe when nothing runs. */
  killGroup(signal: NodeJS.Signals): void {
    const pid = this.#child?.pid;
    if (pid !== undefined) killGroup(pid, signal);
  }

  /** Resolves once the leader exited and no process of its group is left, or after `timeoutMs`. */
  async waitGone(timeoutMs: number): Promise<boolean> {
    const pid = this.#child?.pid;
    const deadline = Date.now() + timeoutMs;
    await Promise.race([this.#exited, sleep(timeoutMs)]);
    while (pid !== undefined && groupAlive(pid)) {
      if (Date.now() > deadline) return false;
      await sleep(20);
    }
    return true;
  }

  /** Kills the group at once (a crash, as the demo's "kill" button). */
  async kill(): Promise<void> {
    this.killGroup('SIGKILL');
    await this.waitGone(5000);
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`. Safe to call twice. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.#child === undefined) return;
    this.killGroup('SIGTERM');
    if (!(await this.waitGone(graceMs))) {
      this.killGroup('SIGKILL');
      await this.waitGone(2000);
    }
  }

  /** Resolves when the current process exits. */
  get exited(): Promise<void> {
    return this.#exited;
  }

  /** The Node.js child's IPC channel, to hear `ready`. */
  get child(): ChildProcess | undefined {
    return this.#child;
  }
}
