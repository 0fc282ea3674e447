/**
 * Where and how a benchmark ran, for the lines above each table in docs/benchmarks.md.
 *
 * - `machineInfo()`: cores and CPU model (from `os.cpus()`), memory, Node.js version, platform,
 *   and the 1-minute load average (other work on the machine skews throughput; say so).
 * - `codeVersion()`: the git commit measured, and whether `packages/` had uncommitted changes.
 * - `runHeader({ command, date })`: the markdown lines — command line, date (UTC), machine, code.
 */
import { execFileSync } from 'node:child_process';
import { arch, cpus, loadavg, platform, totalmem } from 'node:os';

/** The machine a run happened on. */
export interface MachineInfo {
  cores: number;
  model: string;
  /** Total memory, GiB. */
  memoryGiB: number;
  node: string;
  platform: string;
  /** 1-minute load average when asked. */
  load1: number;
}

/** Describes this machine now. */
export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cores: list.length,
    model: (list[0]?.model ?? 'unknown CPU').trim().replace(/\s+/g, ' '),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${platform()} ${arch()}`,
    load1: loadavg()[0] ?? NaN,
  };
}

/** `abc1234`, `abc1234 + uncommitted changes in packages/`, or `unknown (not a git checkout)`. */
export function codeVersion(cwd = process.cwd()): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--untracked-files=no', '--', 'packages');
    return dirty ? `${head} + uncommitted changes in packages/` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** What {@link runHeader} prints. */
export interface RunHeaderInput {
  /** The command line that produced the section. */
  command: string;
  /** @default now */
  date?: Date;
  /** @default machineInfo() */
  machine?: MachineInfo;
  /** @default codeVersion() */
  code?: string;
}

/** The lines above a table: command, date, machine. Ends with a blank line. */
export function runHeader(input: RunHeaderInput): string {
  const m = input.machine ?? machineInfo();
  const date = (input.date ?? new Date()).toISOString().replace(/:\d\d\.\d+Z$/, '').replace('T', ' ');
  return [
    `- Command: \`${input.command}\``,
    `- Date: ${date} UTC`,
    `- Machine: ${m.cores} cores, ${m.model}, ${m.memoryGiB} GiB, Node.js ${m.node} (${m.platform}); load average ${m.load1.toFixed(2)} at start`,
    `- Code: ${input.code ?? codeVersion()}`,
    '',
  ].join('\n');
}
