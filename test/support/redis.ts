import { Redis } from 'ioredis';
import { eventually, freePort } from './ports.js';
import { startProcess, tempDir, writeFile, type ServerProcess } from './server-process.js';

export * from './server-process.js';

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
function parseInfo(text: string): Map<string, string> {
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

/** Arguments every test redis-server gets: loopback only, no persistence, fast replication. */
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
    const port = await freePort();
    const master = await startRedisProcess(`redis master :${port}`, port, tmp.dir, [...baseRedisArgs(port, tmp.dir, password), ...extraArgs], password);
    started.push(master);
    const replicas: ServerProcess[] = [];
    for (let i = 0; i < (options.replicas ?? 0); i++) {
      const rport = await freePort();
      const args = [...baseRedisArgs(rport, tmp.dir, password), '--replicaof', '127.0.0.1', String(port), ...extraArgs];
      const replica = await startRedisProcess(`redis replica :${rport}`, rport, tmp.dir, args, password);
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
      const port = await freePort();
      const conf = writeFile(redis.dir, `sentinel-${port}.conf`, [
        `port ${port}`,
        'bind 127.0.0.1',
        'protected-mode no',
        `dir ${redis.dir}`,
        'logfile ""',
        `sentinel monitor ${name} 127.0.0.1 ${redis.port} ${quorum}`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${name} 1`,
        ...(password !== undefined ? [`sentinel auth-pass ${name} ${password}`] : []),
        '',
      ].join('\n'));
      sentinels.push(await startProcess({ name: `sentinel :${port}`, command: 'redis-sentinel', args: [conf], port, cwd: redis.dir }));
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
      throw new Error('no Sentinel answered');
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

/** A Redis Cluster, as started by {@link startRedisCluster}. */
export interface RedisClusterSet extends AsyncDisposable {
  /** Every node, masters first (in slot order), then replicas. */
  readonly nodes: ServerProcess[];
  /** `host:port` of every node, as the config's `nodes` takes them. */
  readonly addresses: string[];
  readonly password: string | undefined;
  /** Ports of the nodes that are masters now, by asking a live node. */
  masterPorts(): Promise<number[]>;
  /** The node process with this port. */
  node(port: number): ServerProcess;
  /** Resolves once every live node reports `cluster_state:ok` and every slot has a live master. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface StartRedisClusterOptions {
  /** @default 3 */
  masters?: number;
  /** @default 1 */
  replicasPerMaster?: number;
  password?: string;
  /** `cluster-node-timeout`: how soon a silent master is failed over. @default 1000 */
  nodeTimeoutMs?: number;
}

const CLUSTER_SLOTS = 16384;

/**
 * Starts a Redis Cluster on free ports: `masters` masters sharing the 16384 slots evenly and
 * `replicasPerMaster` replicas of each, joined with CLUSTER MEET (with explicit bus ports, so any
 * free port works) and resolved once the cluster is healthy and every replica is in sync.
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisClusterSet> {
  const { password, masters = 3, replicasPerMaster = 1, nodeTimeoutMs = 1000 } = options;
  const tmp = tempDir('redis-cluster');
  const nodes: ServerProcess[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    tmp.remove();
  };
  const cmd = (port: number, command: string, ...args: (string | number)[]) => redisCommand(port, password, command, ...args);
  try {
    const total = masters * (1 + replicasPerMaster);
    const busPorts: number[] = [];
    for (let i = 0; i < total; i++) {
      const port = await freePort();
      const bus = await freePort();
      busPorts.push(bus);
      const args = [
        ...baseRedisArgs(port, tmp.dir, password),
        '--cluster-enabled', 'yes',
        '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', String(nodeTimeoutMs),
        '--cluster-port', String(bus),
        '--cluster-require-full-coverage', 'no',
        '--cluster-replica-validity-factor', '0',
      ];
      nodes.push(await startRedisProcess(`cluster node :${port}`, port, tmp.dir, args, password));
    }
    const ids = await Promise.all(nodes.map(async (n) => String(await cmd(n.port, 'CLUSTER', 'MYID'))));
    for (let m = 0; m < masters; m++) {
      const from = Math.floor((m * CLUSTER_SLOTS) / masters);
      const to = Math.floor(((m + 1) * CLUSTER_SLOTS) / masters) - 1;
      await cmd(nodes[m]!.port, 'CLUSTER', 'ADDSLOTSRANGE', from, to);
      await cmd(nodes[m]!.port, 'CLUSTER', 'SET-CONFIG-EPOCH', m + 1);
    }
    for (let i = 1; i < total; i++) await cmd(nodes[0]!.port, 'CLUSTER', 'MEET', '127.0.0.1', nodes[i]!.port, busPorts[i]!);
    await Promise.all(
      nodes.map((n) =>
        eventually(async () => (await clusterInfo(n.port, password)).get('cluster_known_nodes') === String(total), 20_000, `node :${n.port} knows all ${total} nodes`),
      ),
    );
    for (let i = masters; i < total; i++) await cmd(nodes[i]!.port, 'CLUSTER', 'REPLICATE', ids[(i - masters) % masters]!);
    const live = () => nodes.filter((n) => n.alive);
    const masterPorts = async () => {
      const text = String(await cmd(live()[0]!.port, 'CLUSTER', 'NODES'));
      // <id> <ip:port@bus> <flags> <master-id> <ping> <pong> <epoch> <link> <slots...>
      return text
        .split('\n')
        .map((line) => line.split(' '))
        .filter((f) => f.length >= 8 && f[2]!.split(',').includes('master') && !f[2]!.includes('fail'))
        .map((f) => Number(f[1]!.split('@')[0]!.split(':').pop()));
    };
    const waitHealthy = async (timeoutMs = 20_000) => {
      await Promise.all(
        live().map((n) => eventually(async () => {
          const info = await clusterInfo(n.port, password);
          return info.get('cluster_state') === 'ok' && info.get('cluster_slots_ok') === String(CLUSTER_SLOTS);
        }, timeoutMs, `cluster node :${n.port} healthy`)),
      );
    };
    await waitHealthy();
    await Promise.all(nodes.slice(masters).map((n) => waitForReplicaLink(n.port, password)));
    let stopping: Promise<void> | undefined;
    return {
      nodes,
      addresses: nodes.map((n) => `127.0.0.1:${n.port}`),
      password,
      masterPorts,
      node: (port) => {
        const found = nodes.find((n) => n.port === port);
        if (!found) throw new Error(`no cluster node on port ${port}`);
        return found;
      },
      waitHealthy,
      stop: () => (stopping ??= stop()),
      [Symbol.asyncDispose]: () => (stopping ??= stop()),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function clusterInfo(port: number, password: string | undefined): Promise<Map<string, string>> {
  return parseInfo(String(await redisCommand(port, password, 'CLUSTER', 'INFO')));
}
