import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PortInUseError, saysAddressInUse, ServerMissingError, StartFailedError } from './errors.js';
import { killOnExit } from './exit-hook.js';
import { waitForPort } from './ports.js';

/** One server process (redis-server, redis-sentinel, a Hazelcast member) that a test can kill and bring back. */
export interface ServerProcess {
  readonly name: string;
  readonly port: number;
  /** True between start and exit. */
  readonly alive: boolean;
  readonly pid: number | undefined;
  /** Sends `signal` and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the process again with the same arguments (same port) and waits until it listens. */
  restart(): Promise<void>;
  /** Freezes it (SIGSTOP): it keeps its sockets open but answers nothing, like a hung server. */
  pause(): void;
  /** Lets a paused process run again (SIGCONT). */
  resume(): void;
  /** Stops it (SIGTERM, then SIGKILL after 3 s). Safe to call twice. */
  stop(): Promise<void>;
  /** The last lines it wrote, for failure messages. */
  log(): string;
}

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  port: number;
  cwd: string;
  /** Resolves once the process serves; defaults to waiting for its TCP port. */
  ready?: () => Promise<void>;
  readyTimeoutMs?: number;
}

/** Spawns a server process and waits until it is ready; a missing binary says how to install it. */
export async function startProcess(spec: ProcessSpec): Promise<ServerProcess> {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  let stopped = false;

  const launch = async (): Promise<void> => {
    output = '';
    const proc = spawn(spec.command, spec.args, { cwd: spec.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const forget = killOnExit(() => proc.kill('SIGKILL'));
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-8000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let spawnError: Error | undefined;
    exited = new Promise<void>((resolve) => {
      proc.once('error', (err) => {
        spawnError = err;
        forget();
        resolve();
      });
      proc.once('exit', () => {
        forget();
        resolve();
      });
    });
    // 'exit' can come before the last of its output: what it said on the way out is kept first.
    const drained = exited.then(() => Promise.race([new Promise((r) => proc.stderr?.once('close', r)), new Promise((r) => setTimeout(r, 200))]));
    const failed = drained.then(() => {
      if ((spawnError as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
        throw new ServerMissingError(spec.command, { cause: spawnError });
      }
      if (saysAddressInUse(output)) throw new PortInUseError(spec.name, spec.port, output);
      throw new StartFailedError(`${spec.name} exited before it was ready${spawnError ? `: ${spawnError.message}` : ''}\n${output}`, { cause: spawnError });
    });
    const ready = spec.ready ?? (() => waitForPort(spec.port, spec.readyTimeoutMs ?? 10_000));
    try {
      await Promise.race([ready(), failed]);
      // Whatever answered may be another process on a port this one failed to bind: a server
      // that lost its port exits at once, so one more turn of I/O shows it.
      await new Promise((r) => setTimeout(r, 20));
      if (proc.exitCode !== null || proc.signalCode !== null) await failed;
    } catch (err) {
      proc.kill('SIGKILL');
      throw err;
    }
    failed.catch(() => undefined);
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };

  await launch();
  return {
    name: spec.name,
    port: spec.port,
    get alive() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    get pid() {
      return child?.pid;
    },
    kill,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    async restart() {
      await kill('SIGKILL');
      stopped = false;
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      child?.kill('SIGCONT');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 3000);
      await kill('SIGTERM');
      clearTimeout(timer);
    },
    log: () => output,
  };
}

/** A temporary folder removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `scaleout-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `text` to `name` inside `dir` and returns the path. */
export function writeFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
