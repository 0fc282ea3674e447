import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { debuglog } from 'node:util';
import type { ScaleoutConfigInput } from '@scaleout/core';
import { eventually, type HazelcastCluster, type NodeProcess, type RedisClusterSet, type RedisSentinelSet, type RedisServer, startHazelcast, startRedis, startRedisCluster, startOnFreePort, startRedisSentinel, tempDir, writeFile } from '@scaleout/harness';

const debug = debuglog('scaleout:faults-topology');

const APP_NODE = fileURLToPath(new URL('./app-node.ts', import.meta.url));
const PROXY_CLI = fileURLToPath(new URL('../packages/proxy/bin/scaleout-proxy.js', import.meta.url));

/** The strategy and store topologies the matrix holds to their promises. */
export const TOPOLOGY_NAMES = ['sticky', 'cluster-redis', 'store-sentinel', 'store-redis-cluster', 'store-hazelcast'] as const;
/** Topologies that promise no durability, run for contrast: they show the matrix does see losses. */
export const CONTRAST_TOPOLOGIES = ['store-hazelcast-no-backup'] as const;
export const ALL_TOPOLOGIES = [...TOPOLOGY_NAMES, ...CONTRAST_TOPOLOGIES] as const;
export type TopologyName = (typeof ALL_TOPOLOGIES)[number];

/** True for a topology run for contrast, which promises nothing about losses. */
export function isContrast(name: TopologyName): boolean {
  return (CONTRAST_TOPOLOGIES as readonly string[]).includes(name);
}

/** What each topology is, as the report's table names it. */
export const TOPOLOGY_LABELS: Record<TopologyName, string> = {
  sticky: 'sticky, sessions in node memory',
  'cluster-redis': 'cluster over Redis pub/sub',
  'store-sentinel': 'store on Redis Sentinel (2 replicas, waitReplicas 1)',
  'store-redis-cluster': 'store on Redis Cluster (3 masters × 2 replicas, waitReplicas 1)',
  'store-hazelcast': 'store on Hazelcast (2 members, backup-count 1)',
  'store-hazelcast-no-backup': 'for contrast: store on Hazelcast (2 members, backup-count 0)',
};

/** The app nodes: two Express, one Koa, as in the sample cluster. */
export const NODES = [
  { id: 'node-1', framework: 'express' },
  { id: 'node-2', framework: 'express' },
  { id: 'node-3', framework: 'koa' },
] as const;

/** The proxy's cookie stickiness per strategy, as the sample cluster routes. */
export const STICKY_MODE = { sticky: 'learn', cluster: 'insert', store: 'none' } as const;

/** A whole system under test: its servers, three app node processes and the proxy process in front. */
export interface Topology extends AsyncDisposable {
  readonly name: TopologyName;
  readonly strategy: 'sticky' | 'cluster' | 'store';
  readonly nodes: NodeProcess[];
  readonly proxy: NodeProcess;
  /** The app through the proxy. */
  readonly url: string;
  /** The proxy's status JSON. */
  readonly statusUrl: string;
  /** The servers, by topology. */
  readonly redis?: RedisServer;
  readonly sentinel?: RedisSentinelSet;
  readonly redisCluster?: RedisClusterSet;
  readonly hazelcast?: HazelcastCluster;
  /** The node process with this id. */
  node(id: string): NodeProcess;
  /** Resolves once the proxy sees every running node up. */
  waitAllUp(timeoutMs?: number): Promise<void>;
  /** Stops every process and removes the folder. Safe to call twice. */
  close(): Promise<void>;
}

export interface StartTopologyOptions {
  /** The proxy's active health check interval (and timeout). @default 500 */
  healthIntervalMs?: number;
  /** The proxy's wait for a node's response head: a frozen node gets a 504 after this. @default 3000 */
  serverTimeoutMs?: number;
}

interface Backends {
  config: Partial<ScaleoutConfigInput>;
  redis?: RedisServer;
  sentinel?: RedisSentinelSet;
  redisCluster?: RedisClusterSet;
  hazelcast?: HazelcastCluster;
  stop(): Promise<void>;
}

async function startBackends(name: TopologyName): Promise<Backends> {
  switch (name) {
    case 'sticky':
      return { config: { strategy: 'sticky', store: { type: 'memory' } }, stop: async () => undefined };
    case 'cluster-redis': {
      // DEBUG SLEEP (the slow-Redis fault) is refused unless enabled, from loopback only.
      const redis = await startRedis({ extraArgs: ['--enable-debug-command', 'local'] });
      return {
        config: { strategy: 'cluster', cluster: { transport: { type: 'redis', url: redis.url, channel: `faults-${randomBytes(4).toString('hex')}` } } },
        redis,
        stop: () => redis.stop(),
      };
    }
    case 'store-sentinel': {
      // Two replicas: once one is promoted, the other still confirms writes for waitReplicas 1.
      const sentinel = await startRedisSentinel({ replicas: 2, sentinels: 3 });
      return {
        config: { strategy: 'store', store: { type: 'redis', sentinels: sentinel.sentinelAddresses, name: sentinel.name, waitReplicas: 1 } },
        sentinel,
        stop: () => sentinel.stop(),
      };
    }
    case 'store-redis-cluster': {
      // Two replicas per master, for the same reason: the promoted master keeps one to confirm writes.
      const redisCluster = await startRedisCluster({ masters: 3, replicasPerMaster: 2 });
      return {
        config: { strategy: 'store', store: { type: 'redis', nodes: redisCluster.addresses, waitReplicas: 1 } },
        redisCluster,
        stop: () => redisCluster.stop(),
      };
    }
    case 'store-hazelcast':
    case 'store-hazelcast-no-backup': {
      const hazelcast = await startHazelcast({ members: 2, backupCount: name === 'store-hazelcast' ? 1 : 0, clusterName: 'faults' });
      return {
        config: { strategy: 'store', store: { type: 'hazelcast', members: hazelcast.addresses, clusterName: hazelcast.clusterName, map: 'faults-sessions' } },
        hazelcast,
        stop: () => hazelcast.stop(),
      };
    }
  }
}

interface ProxyTargetState {
  id: string;
  state: string;
}

/**
 * Starts a topology: its servers (through `@scaleout/harness`), three app nodes as child processes
 * sharing one `scaleout.config.json`, and `@scaleout/proxy` as a child process in front, routing
 * as the sample cluster does (sticky: the node's route cookie; cluster: the proxy's own cookie,
 * since replication is asynchronous; store: round robin). Resolves once the proxy sees every node up.
 */
export async function startTopology(name: TopologyName, options: StartTopologyOptions = {}): Promise<Topology> {
  const { healthIntervalMs = 500, serverTimeoutMs = 3000 } = options;
  const tmp = tempDir('faults');
  const processes: NodeProcess[] = [];
  let backends: Backends | undefined;
  const stopAll = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await backends?.stop();
    tmp.remove();
  };
  try {
    backends = await startBackends(name);
    const secret = randomBytes(24).toString('base64url');
    const config = { secret, session: { ttl: '30m', cookieName: 'sid' }, sticky: { cookieName: 'route' }, ...backends.config } as ScaleoutConfigInput;
    const configFile = writeFile(tmp.dir, 'scaleout.config.json', JSON.stringify(config, null, 2));
    const strategy = config.strategy as Topology['strategy'];

    const started = await Promise.allSettled(
      NODES.map((n) =>
        startOnFreePort((port) => {
          const env: NodeJS.ProcessEnv = { ...process.env, SCALEOUT_CONFIG: configFile, SCALEOUT_NODE_ID: n.id, PORT: String(port), FAULTS_FRAMEWORK: n.framework };
          // The runner's own SCALEOUT_* variables would override the config file.
          for (const k of Object.keys(env)) if (k.startsWith('SCALEOUT_') && k !== 'SCALEOUT_CONFIG' && k !== 'SCALEOUT_NODE_ID') delete env[k];
          return { name: n.id, script: APP_NODE, env, port, ready: /^READY \d+$/m };
        }),
      ),
    );
    const nodes: NodeProcess[] = [];
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
    processes.push(...nodes);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;

    const stickyMode = STICKY_MODE[strategy];
    const proxyJson = (proxyPort: number) => JSON.stringify({
      listen: proxyPort,
      host: '127.0.0.1',
      algorithm: 'round-robin',
      secret,
      targets: nodes.map((n) => ({ id: n.name, url: n.url })),
      // insert uses a cookie of its own, apart from the app's session cookie.
      sticky: { mode: stickyMode, cookieName: stickyMode === 'insert' ? 'lb' : 'route' },
      healthCheck: { path: '/healthz', interval: healthIntervalMs, timeout: healthIntervalMs, rise: 2, fall: 2 },
      // As the sample cluster: a store outage makes every node answer 503 for a moment, and
      // ejecting them all for it would only stretch the outage.
      passive: { consecutiveErrors: 50, ejectTime: '2s' },
      timeouts: { connect: '500ms', server: serverTimeoutMs, shutdown: '1s' },
      retries: 2,
    }, null, 2);
    const proxy = await startOnFreePort((port) => ({ name: 'proxy', script: PROXY_CLI, args: ['--config', writeFile(tmp.dir, 'proxy.json', proxyJson(port))], port, ready: /listening on/ }));
    processes.push(proxy);

    const statusUrl = `${proxy.url}/__scaleout/status.json`;
    const waitAllUp = async (timeoutMs = 30_000) => {
      await eventually(async () => {
        const res = await fetch(statusUrl, { signal: AbortSignal.timeout(2000) });
        const { targets } = (await res.json()) as { targets: ProxyTargetState[] };
        return nodes.every((n) => !n.alive || targets.find((t) => t.id === n.name)?.state === 'up');
      }, timeoutMs, `the proxy seeing every running node of ${name} up`);
    };
    await waitAllUp();
    debug('%s started: proxy %s', name, proxy.url);

    let closing: Promise<void> | undefined;
    const b = backends;
    return {
      name,
      strategy,
      nodes,
      proxy,
      url: proxy.url,
      statusUrl,
      ...(b.redis ? { redis: b.redis } : {}),
      ...(b.sentinel ? { sentinel: b.sentinel } : {}),
      ...(b.redisCluster ? { redisCluster: b.redisCluster } : {}),
      ...(b.hazelcast ? { hazelcast: b.hazelcast } : {}),
      node(id: string) {
        const found = nodes.find((n) => n.name === id);
        if (!found) throw new Error(`no node ${id} in ${name}`);
        return found;
      },
      waitAllUp,
      close: () => (closing ??= stopAll()),
      [Symbol.asyncDispose]: () => (closing ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
