import { spawn } from 'node:child_process';
import { ServerMissingError, StartFailedError } from './errors.js';
import { killOnExit } from './exit-hook.js';
import { TSX_ARGV } from './node-process.js';

/** How a command that ran to its end ended, and what it printed. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) after this long; the result then has `signal: "SIGKILL"`. @default 60000 */
  timeoutMs?: number;
}

/**
 * Runs `command args` to its end (a CLI's one-shot command, a config test) and resolves with
 * its exit and output; killed with this process if that exits first. A missing program rejects
 * with `ServerMissingError`.
 */
export function runCommand(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const forget = killOnExit(() => proc.kill('SIGKILL'));
    const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c));
    proc.stderr.on('data', (c: Buffer) => (stderr += c));
    proc.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      forget();
      reject(err.code === 'ENOENT' ? new ServerMissingError(command, { cause: err }) : new StartFailedError(`${command}: ${err.message}`, { cause: err }));
    });
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      forget();
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs a TypeScript or JavaScript entry point with this Node.js, through tsx on the `source` condition, to its end. */
export function runNodeScript(script: string, args: string[] = [], options: RunOptions = {}): Promise<RunResult> {
  return runCommand(process.execPath, [...TSX_ARGV, script, ...args], options);
}
