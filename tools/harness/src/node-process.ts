import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { debuglog } from 'node:util';

import { StartFailedError } from './errors.js';
import { killOnExit } from './exit-hook.js';

const debug = debuglog('scaleout:harness-node-process');

const GUARD = fileURLToPath(new URL('./exit-with-parent.ts', import.meta.url));

/** A Node.js child (an app node, the proxy CLI) that a test or a fault scenario kills, freezes and restarts. */
export interface NodeProcess {
  readonly name: string;
  /** The port it listens on; the same after every restart. */
  readonly port: number;
  readonly url: string;
  /** True between start and exit. */
  readonly alive: boolean;
  readonly pid: number | undefined;
  /** Starts it (again) and resolves once it printed its ready line. */
  start(): Promise<void>;
  /** Sends `signal` (default SIGKILL) and resolves once it exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP: it keeps its sockets open and answers nothing, as a process frozen by a long pause. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGCONT, SIGTERM, then SIGKILL after 3 s. Safe to call twice. */
  stop(): Promise<void>;
  /** The last lines it wrote, for failure messages. */
  log(): string;
}

export interface NodeProcessSpec {
  name: string;
  /** A TypeScript or JavaScript entry point, run with this Node.js through tsx on the `source` condition. */
  script: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  port: number;
  /** A line of its output that says it serves. */
  ready: RegExp;
  /** @default 60000 */
  readyTimeoutMs?: number;
}

/** A process described by `spec`, not started yet. */
export function nodeProcess(spec: NodeProcessSpec): NodeProcess {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  const isAlive = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (isAlive()) {
      // A frozen process does not act on SIGTERM until it runs again.
      if (signal !== 'SIGKILL') child!.kill('SIGCONT');
      child!.kill(signal);
    }
    await exited;
  };

  const start = async (): Promise<void> => {
    if (isAlive()) return;
    output = '';
    const proc = spawn(process.execPath, ['--conditions=@scaleout/source', '--import', 'tsx', '--import', GUARD, spec.script, ...(spec.args ?? [])], {
      env: spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child = proc;
    const forget = killOnExit(() => proc.kill('SIGKILL'));
    // The child handle keeps the parent alive while it waits for an exit; the channel need not.
    (proc.channel as { unref?: () => void } | undefined)?.unref?.();
    exited = new Promise<void>((resolve) => {
      proc.once('exit', (code, signal) => {
        debug('%s exited (%s)', spec.name, signal ?? code);
        forget();
        resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      const timeoutMs = spec.readyTimeoutMs ?? 60_000;
      const timer = setTimeout(() => fail(new StartFailedError(`${spec.name} not ready within ${timeoutMs} ms:\n${output}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        output = (output + chunk.toString('utf8')).slice(-8000);
        if (spec.ready.test(output)) done();
      };
      const onExit = () => fail(new StartFailedError(`${spec.name} exited before it was ready:\n${output}`));
      const cleanup = () => {
        clearTimeout(timer);
        proc.off('exit', onExit);
      };
      const done = () => {
        cleanup();
        resolve();
      };
      const fail = (err: Error) => {
        cleanup();
        proc.kill('SIGKILL');
        reject(err);
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', onExit);
    });
    debug('%s ready (pid %d)', spec.name, proc.pid);
  };

  let stopping: Promise<void> | undefined;
  return {
    name: spec.name,
    port: spec.port,
    url: `http://127.0.0.1:${spec.port}`,
    get alive() {
      return isAlive();
    },
    get pid() {
      return child?.pid;
    },
    start: async () => {
      stopping = undefined;
      await start();
    },
    kill,
    pause: () => void (isAlive() && child!.kill('SIGSTOP')),
    resume: () => void (isAlive() && child!.kill('SIGCONT')),
    stop: () =>
      (stopping ??= (async () => {
        const timer = setTimeout(() => void kill('SIGKILL'), 3000);
        await kill('SIGTERM');
        clearTimeout(timer);
      })()),
    log: () => output,
  };
}
