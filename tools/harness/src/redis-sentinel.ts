import { ServerUnavailableError } from './errors.js';
import { eventually, onFreePort } from './ports.js';
import { redisCommand, redisInfo, startRedis, type RedisServer } from './redis.js';
import { startProcess, writeFile, type ServerProcess } from './server-process.js';

/** A Sentinel-monitored master with replicas, as started by {@link startRedisSentinel}. */
export interface RedisSentinelSet extends AsyncDisposable {
  /** The master group name. */
  readonly name: string;
  /** The master and replicas as first started (the master may change after a failover). */
  readonly redis: RedisServer;
  readonly sentinels: ServerProcess[];
  /** `host:port` of each Sentinel, as the config's `sentinels` takes them. */
  readonly sentinelAddresses: string[];
  readonly password: string | undefined;
  /** The port of the master the Sentinels currently name. */
  masterPort(): Promise<number>;
  /** Resolves once the Sentinels name a master other than `oldPort` and it accepts writes. */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

export interface StartRedisSentinelOptions {
  /** @default 1 */
  replicas?: number;
  /** @default 3 */
  sentinels?: number;
  password?: string;
  /** Sentinel `down-after-milliseconds`. @default 500 */
  downAfterMs?: number;
  /** Sentinel `failover-timeout`. @default 2000 */
  failoverTimeoutMs?: number;
}

/** What one Sentinel watches and how soon it fails over, for {@link sentinelConfig}. */
export interface SentinelConfigOptions {
  port: number;
  /** Its working folder (Sentinel rewrites its config file, so each Sentinel needs its own file). */
  dir: string;
  /** The master group name. */
  name: string;
  masterPort: number;
  quorum: number;
  downAfterMs: number;
  failoverTimeoutMs: number;
  /** Replicas resynchronised at once after a failover. @default 1 */
  parallelSyncs?: number;
  /** The master's `requirepass`. */
  password?: string | undefined;
}

/** The text of a `sentinel.conf` watching one master on loopback. */
export function sentinelConfig(o: SentinelConfigOptions): string {
  const { name } = o;
  return [
    `port ${o.port}`,
    'bind 127.0.0.1',
    'protected-mode no',
    `dir ${o.dir}`,
    'logfile ""',
    `sentinel monitor ${name} 127.0.0.1 ${o.masterPort} ${o.quorum}`,
    `sentinel down-after-milliseconds ${name} ${o.downAfterMs}`,
    `sentinel failover-timeout ${name} ${o.failoverTimeoutMs}`,
    `sentinel parallel-syncs ${name} ${o.parallelSyncs ?? 1}`,
    ...(o.password !== undefined ? [`sentinel auth-pass ${name} ${o.password}`] : []),
    '',
  ].join('\n');
}

async function sentinelMaster(port: number, name: string): Promise<Map<string, string>> {
  const flat = (await redisCommand(port, undefined, 'SENTINEL', 'MASTER', name)) as string[];
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!, flat[i + 1]!);
  return fields;
}

/**
 * Starts a master with `replicas` replicas and `sentinels` redis-sentinel processes watching it
 * (quorum: a majority), tuned to fail over within a second or two. Resolves once every Sentinel
 * knows the replicas and the other Sentinels, so a failover can be elected at once.
 */
export async function startRedisSentinel(options: StartRedisSentinelOptions = {}): Promise<RedisSentinelSet> {
  const { password, replicas = 1, sentinels: count = 3, downAfterMs = 500, failoverTimeoutMs = 2000 } = options;
  const name = 'scaleout';
  const redis = await startRedis({ replicas, password });
  const sentinels: ServerProcess[] = [];
  const stop = async () => {
    await Promise.all(sentinels.map((s) => s.stop()));
    await redis.stop();
  };
  try {
    const quorum = Math.floor(count / 2) + 1;
    for (let i = 0; i < count; i++) {
      const sentinel = await onFreePort((port) => {
        const conf = writeFile(redis.dir, `sentinel-${port}.conf`, sentinelConfig({ port, dir: redis.dir, name, masterPort: redis.port, quorum, downAfterMs, failoverTimeoutMs, password }));
        return startProcess({ name: `sentinel :${port}`, command: 'redis-sentinel', args: [conf], port, cwd: redis.dir });
      });
      sentinels.push(sentinel);
    }
    await Promise.all(
      sentinels.map((s) =>
        eventually(async () => {
          const info = await sentinelMaster(s.port, name);
          return Number(info.get('num-slaves')) >= replicas && Number(info.get('num-other-sentinels')) >= count - 1;
        }, 20_000, `sentinel :${s.port} sees ${replicas} replica(s) and ${count - 1} other sentinel(s)`),
      ),
    );
    const masterPort = async () => {
      for (const s of sentinels.filter((x) => x.alive)) {
        try {
          const [, port] = (await redisCommand(s.port, undefined, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [string, string];
          return Number(port);
        } catch {
          // try the next Sentinel
        }
      }
      throw new ServerUnavailableError(`no Sentinel of master "${name}" answered`);
    };
    let stopping: Promise<void> | undefined;
    return {
      name,
      redis,
      sentinels,
      sentinelAddresses: sentinels.map((s) => `127.0.0.1:${s.port}`),
      password,
      masterPort,
      waitForFailover: (oldPort, timeoutMs = 20_000) =>
        eventually(async () => {
          const port = await masterPort();
          if (port === oldPort) return 0;
          const role = await redisInfo(port, password, 'replication');
          return role.get('role') === 'master' ? port : 0;
        }, timeoutMs, `Sentinel failover away from :${oldPort}`),
      stop: () => (stopping ??= stop()),
      [Symbol.asyncDispose]: () => (stopping ??= stop()),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
