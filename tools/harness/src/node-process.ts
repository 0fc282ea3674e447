import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { debuglog } from 'node:util';

import { PortInUseError, saysAddressInUse, StartFailedError } from './errors.js';
import { killOnExit } from './exit-hook.js';
import { onFreePort } from './ports.js';

const debug = debuglog('scaleout:harness-node-process');

const GUARD = fileURLToPath(new URL('./exit-with-parent.ts', import.meta.url));

/** Node.js options that run a TypeScript entry point from the workspace's sources through tsx. */
export const TSX_ARGV: readonly string[] = ['--conditions=@scaleout/source', '--import', 'tsx'];

/** A Node.js child (an app node, the proxy CLI) that a test or a fault scenario kills, freezes and restarts. */
export interface NodeProcess {
  readonly name: string;
  /** The port it listens on: the spec's, or the one its ready line named (0 before that). */
  readonly port: number;
  readonly url: string;
  /** True between start and exit. */
  readonly alive: boolean;
  readonly pid: number | undefined;
  /** The exit code of its last run; null while it runs or when a signal ended it. */
  readonly exitCode: number | null;
  /** Starts it (again) and resolves once it printed its ready line. */
  start(): Promise<void>;
  /** Sends `signal` (default SIGKILL) and resolves once it exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Sends `signal` (SIGUSR2 to drain the proxy, say) without waiting for anything. */
  signal(signal: NodeJS.Signals): void;
  /** SIGSTOP: it keeps its sockets open and answers nothing, as a process frozen by a long pause. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGCONT, SIGTERM, then SIGKILL after 3 s. Safe to call twice. */
  stop(): Promise<void>;
  /** The last lines it wrote, for failure messages. */
  log(): string;
  /** Sends `message` over its IPC channel. */
  send(message: unknown): void;
  /** The next message it sends for which `accept` holds; rejects if it exits first. */
  message<T>(accept?: (message: T) => boolean): Promise<T>;
}

export interface NodeProcessSpec {
  name: string;
  /** A TypeScript or JavaScript entry point, run with this Node.js through tsx on the `source` condition. */
  script: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The port it listens on. Without it, the port is the first group `ready` captures (`/READY (\d+)/`). */
  port?: number;
  /** The address it listens on, in `url`. @default "127.0.0.1" */
  host?: string;
  /** A line of its output that says it serves. */
  ready: RegExp;
  /** @default 60000 */
  readyTimeoutMs?: number;
  /** Node.js options before the script, such as `--expose-gc`. */
  execArgv?: string[];
  /** A command it runs under, such as `['ip', 'netns', 'exec', ns]`. @default [] */
  wrap?: string[];
}

/** A process described by `spec`, not started yet. */
export function nodeProcess(spec: NodeProcessSpec): NodeProcess {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  let port = spec.port ?? 0;
  let exitCode: number | null = null;
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
    exitCode = null;
    const [command, ...args] = [...(spec.wrap ?? []), process.execPath, ...(spec.execArgv ?? []), ...TSX_ARGV, '--import', GUARD, spec.script, ...(spec.args ?? [])];
    const proc = spawn(command!, args, {
      cwd: spec.cwd,
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
        exitCode = code;
        forget();
        resolve();
      });
    });
    let settled = false;
    await new Promise<void>((resolve, reject) => {
      const timeoutMs = spec.readyTimeoutMs ?? 60_000;
      const timer = setTimeout(() => fail(new StartFailedError(`${spec.name} not ready within ${timeoutMs} ms:\n${output}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        output = (output + chunk.toString('utf8')).slice(-8000);
        const m = settled ? null : spec.ready.exec(output);
        if (!m) return;
        if (spec.port === undefined) port = Number(m[1]);
        done();
      };
      const onExit = () =>
        fail(saysAddressInUse(output) && spec.port !== undefined ? new PortInUseError(spec.name, spec.port, output) : new StartFailedError(`${spec.name} exited before it was ready:\n${output}`));
      const cleanup = () => {
        settled = true;
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
    get port() {
      return port;
    },
    get url() {
      return `http://${spec.host ?? '127.0.0.1'}:${port}`;
    },
    get alive() {
      return isAlive();
    },
    get pid() {
      return child?.pid;
    },
    get exitCode() {
      return exitCode;
    },
    start: async () => {
      stopping = undefined;
      await start();
    },
    kill,
    signal: (signal) => void (isAlive() && child!.kill(signal)),
    pause: () => void (isAlive() && child!.kill('SIGSTOP')),
    resume: () => void (isAlive() && child!.kill('SIGCONT')),
    stop: () =>
      (stopping ??= (async () => {
        const timer = setTimeout(() => void kill('SIGKILL'), 3000);
        await kill('SIGTERM');
        clearTimeout(timer);
      })()),
    log: () => output,
    send: (message) => {
      if (!isAlive()) throw new StartFailedError(`${spec.name} is not running`);
      child!.send(message as Parameters<ChildProcess['send']>[0]);
    },
    message: <T>(accept: (message: T) => boolean = () => true) =>
      new Promise<T>((resolve, reject) => {
        const proc = child;
        if (!proc || !isAlive()) return reject(new StartFailedError(`${spec.name} is not running`));
        const onMessage = (m: T) => {
          if (!accept(m)) return;
          proc.off('exit', onExit);
          proc.off('message', onMessage);
          resolve(m);
        };
        const onExit = () => {
          proc.off('message', onMessage);
          reject(new StartFailedError(`${spec.name} exited:\n${output}`));
        };
        proc.on('message', onMessage);
        proc.once('exit', onExit);
      }),
  };
}

/**
 * Starts the process `spec(port)` describes on a free port and resolves once it is ready; when
 * another process took the port before it bound it, on another port.
 */
export function startOnFreePort(spec: (port: number) => NodeProcessSpec): Promise<NodeProcess> {
  return onFreePort(async (port) => {
    const proc = nodeProcess(spec(port));
    await proc.start();
    return proc;
  });
}
