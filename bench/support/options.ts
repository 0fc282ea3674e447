/**
 * Options every benchmark's `run(options)` receives from `bench/run.ts`, and the CLI parser.
 *
 * Flags: `--name=value`, `--name value`, `--flag` (true) and `--no-flag` (false). The common ones
 * are typed below; all of them, including a benchmark's own, are in `flags`.
 *
 * ```ts
 * export async function run(options: BenchOptions = {}): Promise<string> {
 *   const seconds = options.duration ?? 8;
 *   const backend = flag(options, 'backend', 'redis');
 * }
 * ```
 */

/** What `bench/run.ts` passes to a benchmark. Every field is optional for a direct call. */
export interface BenchOptions {
  /** Measured seconds per case. @default 8 */
  duration?: number;
  /** Unmeasured seconds before each measurement. @default 2 */
  warmup?: number;
  /** Concurrent connections of the load generator. @default 50 */
  connections?: number;
  /** Rounds over all cases; cases alternate within a round and medians are reported. @default 3 */
  rounds?: number;
  /** Write `.cpuprofile` files of the servers under test into `.tmp/bench/profiles`. @default false */
  profile?: boolean;
  /** Every flag given on the command line. */
  flags?: Record<string, string | boolean>;
}

/** Positional names and flags of a command line. */
export interface ParsedArgs {
  names: string[];
  flags: Record<string, string | boolean>;
}

/** Splits `argv` into names and `--flags`. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const names: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      names.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq !== -1) flags[a.slice(2, eq)] = a.slice(eq + 1);
    else if (a.startsWith('--no-')) flags[a.slice(5)] = false;
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--') && /^-?[\d.]+$/.test(argv[i + 1]!)) flags[a.slice(2)] = argv[++i]!;
    else flags[a.slice(2)] = true;
  }
  return { names, flags };
}

function num(flags: Record<string, string | boolean>, key: string): number | undefined {
  const v = flags[key];
  if (v === undefined || typeof v === 'boolean') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${key}: expected a number >= 0, got ${JSON.stringify(v)}`);
  return n;
}

/** The typed common options from parsed flags. */
export function benchOptions(flags: Record<string, string | boolean>): BenchOptions {
  const out: BenchOptions = { flags };
  const duration = num(flags, 'duration');
  const warmup = num(flags, 'warmup');
  const connections = num(flags, 'connections');
  const rounds = num(flags, 'rounds');
  if (duration !== undefined) out.duration = duration;
  if (warmup !== undefined) out.warmup = warmup;
  if (connections !== undefined) out.connections = Math.max(1, Math.round(connections));
  if (rounds !== undefined) out.rounds = Math.max(1, Math.round(rounds));
  if (flags.profile === true) out.profile = true;
  return out;
}

/** A benchmark-specific flag as a string, or `fallback`. */
export function flag(options: BenchOptions, key: string, fallback: string): string {
  const v = options.flags?.[key];
  return typeof v === 'string' ? v : fallback;
}

/** The load settings of the session benchmarks (middleware, stores), with their defaults. */
export interface SessionLoadSettings {
  duration: number;
  warmup: number;
  connections: number;
  rounds: number;
  /** Sessions created before measuring, whose cookies are sent round-robin (`--sessions`). */
  sessions: number;
}

/** Resolves {@link SessionLoadSettings} from the options; `--sessions` must be a whole number >= 1. */
export function sessionLoadSettings(options: BenchOptions): SessionLoadSettings {
  const sessions = Number(flag(options, 'sessions', '500'));
  if (!Number.isInteger(sessions) || sessions < 1) throw new Error(`--sessions: expected a whole number >= 1, got ${sessions}`);
  return { duration: options.duration ?? 8, warmup: options.warmup ?? 2, connections: options.connections ?? 50, rounds: options.rounds ?? 3, sessions };
}
