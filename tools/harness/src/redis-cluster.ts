import { InvalidArgumentError } from '@scaleout/core';
import { eventually, freePort, onFreePort } from './ports.js';
import { baseRedisArgs, parseInfo, redisCommand, startRedisProcess, waitForReplicaLink } from './redis.js';
import { tempDir, type ServerProcess } from './server-process.js';

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
      let bus = 0;
      const node = await onFreePort(async (port) => {
        // Either port may be the one taken: both are picked again.
        bus = await freePort();
        const args = [
          ...baseRedisArgs(port, tmp.dir, password),
          '--cluster-enabled', 'yes',
          '--cluster-config-file', `nodes-${port}.conf`,
          '--cluster-node-timeout', String(nodeTimeoutMs),
          '--cluster-port', String(bus),
          '--cluster-require-full-coverage', 'no',
          '--cluster-replica-validity-factor', '0',
        ];
        return startRedisProcess(`cluster node :${port}`, port, tmp.dir, args, password);
      });
      busPorts.push(bus);
      nodes.push(node);
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
        if (!found) throw new InvalidArgumentError('port', `no cluster node on port ${port}; the nodes are on ${nodes.map((n) => n.port).join(', ')}`);
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
