import { Redis } from 'ioredis';
import { eventually, onFreePort } from './ports.js';
import { startProcess, tempDir, type ServerProcess } from './server-process.js';

/** Runs one command against a Redis server with a short-lived connection. */
export async function redisCommand(port: number, password: string | undefined, command: string, ...args: (string | number)[]): Promise<unknown> {
  const client = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(command, ...args);
  } finally {
    client.disconnect();
  }
}

/** Parses `INFO` / `CLUSTER INFO` text into a map of fields. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  return fields;
}

/** The `INFO <section>` of a server as a map of fields. */
export async function redisInfo(port: number, password: string | undefined, section: string): Promise<Map<string, string>> {
  return parseInfo(String(await redisCommand(port, password, 'INFO', section)));
}

/** Arguments every redis-server the harness starts gets: loopback only, no persistence, fast replication. */
export function baseRedisArgs(port: number, dir: string, password: string | undefined): string[] {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--protected-mode', 'no',
    '--daemonize', 'no',
    '--repl-diskless-sync', 'yes',
    '--repl-diskless-sync-delay', '0',
    '--logfile', '',
  ];
  if (password !== undefined) args.push('--requirepass', password, '--masterauth', password);
  return args;
}

/** Starts one redis-server with `args` on `port`, waiting until it answers PING. */
export async function startRedisProcess(name: string, port: number, dir: string, args: string[], password?: string): Promise<ServerProcess> {
  return startProcess({
    name,
    command: 'redis-server',
    args,
    port,
    cwd: dir,
    ready: () => eventually(async () => (await redisCommand(port, password, 'PING')) === 'PONG', 10_000, `${name} answering PING`).then(() => undefined),
  });
}

/** Waits until `replicaPort` has a live link to its master. */
export async function waitForReplicaLink(replicaPort: number, password: string | undefined, timeoutMs = 15_000): Promise<void> {
  await eventually(async () => (await redisInfo(replicaPort, password, 'replication')).get('master_link_status') === 'up', timeoutMs, `replica on port ${replicaPort} linked to its master`);
}

/** Resolves once the master on `masterPort` counts `count` replicas online (so `WAIT 1` has one to confirm). */
export async function waitForReplicas(masterPort: number, password: string | undefined, count: number, timeoutMs = 15_000): Promise<void> {
  await eventually(async () => {
    const info = await redisInfo(masterPort, password, 'replication');
    const online = [...info.entries()].filter(([k, v]) => /^slave\d+$/.test(k) && v.includes('state=online')).length;
    return online >= count;
  }, timeoutMs, `redis :${masterPort} with ${count} replica(s) online`);
}

/** A redis-server master with replicas, as started by {@link startRedis}. */
export interface RedisServer extends AsyncDisposable {
  /** `redis://[:password@]127.0.0.1:<master port>`. */
  readonly url: string;
  readonly port: number;
  readonly password: string | undefined;
  readonly master: ServerProcess;
  readonly replicas: ServerProcess[];
  readonly dir: string;
  /** Sends `signal` (default SIGKILL) to the master and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the master again on the same port (empty: persistence is off). */
  restart(): Promise<void>;
  /** Stops every process and removes the folder. Safe to call twice. */
  stop(): Promise<void>;
  /** Runs one command on the master. */
  command(command: string, ...args: (string | number)[]): Promise<unknown>;
}

export interface StartRedisOptions {
  /** Replicas of the master. @default 0 */
  replicas?: number;
  /** `requirepass` (and `masterauth`) of every server. */
  password?: string;
  /** More redis-server arguments for every server. */
  extraArgs?: string[];
}

/** Starts a redis-server (and `replicas` replicas of it) on free ports in a temporary folder. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const { password, extraArgs = [] } = options;
  const tmp = tempDir('redis');
  const started: ServerProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => p.stop()));
    tmp.remove();
  };
  try {
    const master = await onFreePort((p) => startRedisProcess(`redis master :${p}`, p, tmp.dir, [...baseRedisArgs(p, tmp.dir, password), ...extraArgs], password));
    const port = master.port;
    started.push(master);
    const replicas: ServerProcess[] = [];
    for (let i = 0; i < (options.replicas ?? 0); i++) {
      const replica = await onFreePort((rport) => {
        const args = [...baseRedisArgs(rport, tmp.dir, password), '--replicaof', '127.0.0.1', String(port), ...extraArgs];
        return startRedisProcess(`redis replica :${rport}`, rport, tmp.dir, args, password);
      });
      started.push(replica);
      replicas.push(replica);
    }
    await Promise.all(replicas.map((r) => waitForReplicaLink(r.port, password)));
    let stopping: Promise<void> | undefined;
    const auth = password !== undefined ? `:${encodeURIComponent(password)}@` : '';
    return {
      url: `redis://${auth}127.0.0.1:${port}`,
      port,
      password,
      master,
      replicas,
      dir: tmp.dir,
      kill: (signal) => master.kill(signal),
      restart: () => master.restart(),
      stop: () => (stopping ??= stop()),
      [Symbol.asyncDispose]: () => (stopping ??= stop()),
      command: (command, ...args) => redisCommand(port, password, command, ...args),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
