import { fileURLToPath } from 'node:url';
import { nodeProcess } from '@scaleout/harness';

const FIXTURE = fileURLToPath(new URL('../fixtures/cluster-node.ts', import.meta.url));

/** What a cluster node process reports about itself. */
export interface ClusterNodeState {
  nodeId: string;
  digest: string;
  size: number;
  stats: {
    gaps: number;
    resyncs: number;
    applied: number;
    snapshotsReceived: number;
    dropped: Record<'oversized' | 'malformed' | 'forged' | 'replayed' | 'unknownType', number>;
    peers: string[];
  };
}

/** A cluster node running as a child process (test/fixtures/cluster-node.ts). */
export interface ClusterNodeProcess {
  readonly nodeId: string;
  readonly url: string;
  readonly pid: number;
  readonly alive: boolean;
  /** Calls a /__cluster/ route and returns its JSON. */
  admin<T = Record<string, unknown>>(route: string, method?: 'GET' | 'POST'): Promise<T>;
  state(): Promise<ClusterNodeState>;
  /** Sends `signal` and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then SIGKILL after 3 s. Safe to call twice. */
  stop(): Promise<void>;
  log(): string;
}

export interface StartClusterNodeOptions {
  nodeId: string;
  redisUrl: string;
  channel: string;
  /** More CLUSTER_* variables (CLUSTER_AE_INTERVAL, CLUSTER_READY_TIMEOUT...). */
  env?: Record<string, string>;
  /** Longest to wait for `READY`. @default 30000 */
  timeoutMs?: number;
}

/** Spawns a cluster node process over Redis (through the harness) and resolves once it is ready and serving HTTP. */
export async function startClusterNode(options: StartClusterNodeOptions): Promise<ClusterNodeProcess> {
  const proc = nodeProcess({
    name: `cluster node ${options.nodeId}`,
    script: FIXTURE,
    env: {
      ...process.env,
      CLUSTER_NODE_ID: options.nodeId,
      CLUSTER_REDIS_URL: options.redisUrl,
      CLUSTER_CHANNEL: options.channel,
      ...options.env,
    },
    ready: /READY (\d+)/,
    readyTimeoutMs: options.timeoutMs ?? 30_000,
  });
  await proc.start();
  const url = proc.url;
  const node: ClusterNodeProcess = {
    nodeId: options.nodeId,
    url,
    pid: proc.pid!,
    get alive() {
      return proc.alive;
    },
    async admin<T>(route: string, method: 'GET' | 'POST' = 'GET'): Promise<T> {
      const res = await fetch(`${url}/__cluster/${route}`, { method });
      if (!res.ok) throw new Error(`${options.nodeId} /__cluster/${route}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    state: () => node.admin<ClusterNodeState>('state'),
    kill: (signal) => proc.kill(signal),
    stop: () => proc.stop(),
    log: () => proc.log(),
  };
  return node;
}
