import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PortInUseError, saysAddressInUse, ServerMissingError, StartFailedError } from './errors.js';
import { waitForPort } from './ports.js';
import { killOnExit } from './exit-hook.js';
import { killGroup } from './process-group.js';

/** A real balancer process (HAProxy or nginx) in a temp folder. */
export interface RunningBalancer {
  proc: ChildProcess;
  port: number;
  dir: string;
  /** What it printed (its log goes to stderr). */
  output(): string;
  close(): Promise<void>;
}

/** Throws a message that says how to install `binary` when it is missing. */
export function requireBinary(binary: string): void {
  const found = spawnSync(binary, ['-v'], { stdio: 'ignore' });
  if (found.error) throw new ServerMissingError(binary, { cause: found.error });
}

/** Starts `command args` in `dir`, waits for `port`, and kills it on close (the folder goes too). */
export async function startBalancerProcess(command: string, args: string[], dir: string, port: number): Promise<RunningBalancer> {
  // Its own process group, so that killing the group also ends nginx's workers.
  const proc = spawn(command, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const killAll = () => void (proc.pid !== undefined && killGroup(proc.pid, 'SIGKILL'));
  const forget = killOnExit(killAll);
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c));
  proc.stderr!.on('data', (c: Buffer) => (out += c));
  const exited = once(proc, 'exit');
  try {
    await Promise.race([waitForPort(port, 10_000), exited.then(([code]) => Promise.reject(saysAddressInUse(out) ? new PortInUseError(command, port, out) : new StartFailedError(`${command} exited with ${code}: ${out}`)))]);
  } catch (err) {
    killAll();
    forget();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    proc,
    port,
    dir,
    output: () => out,
    async close() {
      const running = proc.exitCode === null && proc.signalCode === null;
      killAll();
      forget();
      if (running) await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `haproxy -f <cfg> -db` (foreground) with `config` in a temp folder; `port` is its bind port. */
export async function startHaproxy(config: string, port: number): Promise<RunningBalancer> {
  requireBinary('haproxy');
  const dir = await mkdtemp(join(tmpdir(), 'scaleout-haproxy-'));
  const cfg = join(dir, 'haproxy.cfg');
  await writeFile(cfg, config);
  return startBalancerProcess('haproxy', ['-f', cfg, '-db'], dir, port);
}
