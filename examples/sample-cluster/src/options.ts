import { parseArgs } from 'node:util';
import { ALGORITHMS, type AlgorithmName } from '@scaleout/balancer';
import { BadOptionError } from './errors.js';

/** The session strategies the sample cluster runs. */
export const STRATEGIES = ['sticky', 'cluster', 'store'] as const;
export type StrategyName = (typeof STRATEGIES)[number];
/** Where `cluster` replicates and `store` keeps sessions. */
export const BACKENDS = ['redis', 'hazelcast'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Options of the sample cluster (`npm start -- --strategy cluster --transport redis`). */
export interface SampleClusterOptions {
  /** Where sessions live. @default "sticky" */
  strategy?: StrategyName;
  /** `cluster`: what carries replication messages. @default "redis" */
  transport?: BackendName;
  /** `store`: the external store. @default "redis" */
  store?: BackendName;
  /** `store` on Redis: replicas of the master (each write waits for one). @default 1 */
  replicas?: number;
  /** A `scaleout.config.json` to read instead of writing one from the options above. @default undefined */
  config?: string;
  /** The proxy's port; 0 picks a free one. Ignored when `basePort` is set. @default 8080 */
  port?: number;
  /** When set, every port is counted from it: proxy, nodes +1..+3, profile +4..+5, dashboard +6, servers +10 on. @default undefined */
  basePort?: number;
  /** The proxy's algorithm for requests without a route cookie. @default "round-robin" */
  algorithm?: AlgorithmName;
  /** Folder for the config, logs and server data; a temporary one is made and removed. @default undefined */
  runDir?: string;
  /** Writes the pids of every process started, as JSON, to this file. @default undefined */
  pidFile?: string;
  /** Keeps the run folder on exit. @default false */
  keep?: boolean;
  /** The proxy's health-check interval in ms: failover is noticed within about twice this. @default 500 */
  healthIntervalMs?: number;
}

/** Defaults of {@link SampleClusterOptions}. */
export const DEFAULT_SAMPLE_CLUSTER = {
  strategy: 'sticky',
  transport: 'redis',
  store: 'redis',
  replicas: 1,
  port: 8080,
  algorithm: 'round-robin',
  keep: false,
  healthIntervalMs: 500,
} as const satisfies SampleClusterOptions;

/** Options with every default filled in. */
export type ResolvedOptions = Required<Pick<SampleClusterOptions, 'strategy' | 'transport' | 'store' | 'replicas' | 'port' | 'algorithm' | 'keep' | 'healthIntervalMs'>> &
  Pick<SampleClusterOptions, 'config' | 'basePort' | 'runDir' | 'pidFile'>;

function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw new BadOptionError(option, value, `expected one of ${allowed.join(', ')}`);
  return value as T;
}

function port(option: string, value: unknown, max = 65535): number {
  const n = value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max) throw new BadOptionError(option, value, `expected an integer port from 0 to ${max}`);
  return n;
}

function path(option: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024 || value.includes('\0')) throw new BadOptionError(option, value, 'expected a file path');
  return value;
}

/** Validates options and fills defaults. Throws `BadOptionError` naming the option, the value and what is allowed. */
export function resolveOptions(options: SampleClusterOptions = {}): ResolvedOptions {
  const o = { ...DEFAULT_SAMPLE_CLUSTER, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Record<string, unknown>;
  const interval = o.healthIntervalMs;
  if (typeof interval !== 'number' || !Number.isInteger(interval) || interval < 100 || interval > 60_000) {
    throw new BadOptionError('--health-interval', interval, 'expected milliseconds from 100 to 60000');
  }
  const replicas = o.replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 1 || replicas > 3) throw new BadOptionError('--replicas', replicas, 'expected 1, 2 or 3');
  return {
    strategy: oneOf('--strategy', o.strategy, STRATEGIES),
    replicas,
    transport: oneOf('--transport', o.transport, BACKENDS),
    store: oneOf('--store', o.store, BACKENDS),
    port: port('--port', o.port),
    // Room for every port counted from it.
    ...(o.basePort !== undefined ? { basePort: port('--base-port', o.basePort, 65_500) } : {}),
    algorithm: oneOf('--algorithm', o.algorithm, ALGORITHMS),
    keep: o.keep === true,
    healthIntervalMs: interval,
    ...(o.config !== undefined ? { config: path('--config', o.config) } : {}),
    ...(o.runDir !== undefined ? { runDir: path('--run-dir', o.runDir) } : {}),
    ...(o.pidFile !== undefined ? { pidFile: path('--pid-file', o.pidFile) } : {}),
  };
}

export const USAGE = `usage: npm start -- [options]
  --strategy sticky|cluster|store   where sessions live (default sticky: node memory, nothing to install)
  --transport redis|hazelcast       cluster: what carries replication (default redis)
  --store redis|hazelcast           store: the external store (default redis, a Sentinel set with one replica)
  --replicas 1|2|3                  store on Redis: replicas of the master (default 1)
  --config <file>                   read this scaleout.config.json instead of writing one
  --port <n>                        the proxy's port, 0 for a free one (default 8080)
  --base-port <n>                   count every port from n: proxy n, nodes n+1..n+3, profile n+4..n+5, dashboard n+6
  --algorithm <name>                ${ALGORITHMS.join(', ')} (default round-robin)
  --run-dir <dir>                   keep config, logs and server data here (default: a temporary folder)
  --pid-file <file>                 write the pids of every process started to this file
  --keep                            keep the run folder on exit
  --health-interval <ms>            the proxy's health-check interval (default 500)`;

// A command-line number: digits become a number; anything else stays a string for the error message.
const number = (value: string | undefined) => (value !== undefined && /^\d{1,7}$/.test(value) ? Number(value) : (value as unknown as number | undefined));

/** Reads the command line. `--help` returns `undefined`. */
export function parseCommandLine(argv: string[]): ResolvedOptions | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        strategy: { type: 'string' },
        transport: { type: 'string' },
        store: { type: 'string' },
        replicas: { type: 'string' },
        config: { type: 'string' },
        port: { type: 'string' },
        'base-port': { type: 'string' },
        algorithm: { type: 'string' },
        'run-dir': { type: 'string' },
        'pid-file': { type: 'string' },
        keep: { type: 'boolean' },
        'health-interval': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new BadOptionError('(command line)', argv.join(' '), `${(err as Error).message}\n${USAGE}`);
  }
  const v = parsed.values;
  if (v.help) return undefined;
  return resolveOptions({
    strategy: v.strategy as StrategyName | undefined,
    transport: v.transport as BackendName | undefined,
    store: v.store as BackendName | undefined,
    replicas: number(v.replicas),
    config: v.config,
    port: number(v.port),
    basePort: number(v['base-port']),
    algorithm: v.algorithm as AlgorithmName | undefined,
    runDir: v['run-dir'],
    pidFile: v['pid-file'],
    keep: v.keep,
    healthIntervalMs: number(v['health-interval']),
  });
}
