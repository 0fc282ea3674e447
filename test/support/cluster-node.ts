import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { killOnExit } from '@scaleout/harness';

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
  /** A command the node runs under, such as `['ip', 'netns', 'exec', ns]`. @default [] */
  wrap?: string[];
  /** The address it listens on (CLUSTER_HTTP_HOST), used in `url`. @default "127.0.0.1" */
  host?: string;
}

/** Spawns a cluster node process over Redis and resolves once it is ready and serving HTTP. */
export async function startClusterNode(options: StartClusterNodeOptions): Promise<ClusterNodeProcess> {
  const [file, ...args] = [...(options.wrap ?? []), process.execPath, '--conditions=@scaleout/source', '--import', 'tsx', FIXTURE];
  const child = spawn(file!, args, {
    env: {
      ...process.env,
      ...(options.host ? { CLUSTER_HTTP_HOST: options.host } : {}),
      CLUSTER_NODE_ID: options.nodeId,
      CLUSTER_REDIS_URL: options.redisUrl,
      CLUSTER_CHANNEL: options.channel,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const forget = killOnExit(() => child.kill('SIGKILL'));
  let output = '';
  let alive = true;
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    alive = false;
    forget();
    resolve();
  }));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cluster node ${options.nodeId} not ready within ${options.timeoutMs ?? 30_000} ms\n${output}`)), options.timeoutMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
      const m = /READY (\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`cluster node ${options.nodeId} exited before it was ready\n${output}`));
    });
  });
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  let stopping: Promise<void> | undefined;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (alive) child.kill(signal);
    await exited;
  };
  const node: ClusterNodeProcess = {
    nodeId: options.nodeId,
    url,
    pid: child.pid!,
    get alive() {
      return alive;
    },
    async admin<T>(route: string, method: 'GET' | 'POST' = 'GET'): Promise<T> {
      const res = await fetch(`${url}/__cluster/${route}`, { method });
      if (!res.ok) throw new Error(`${options.nodeId} /__cluster/${route}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    state: () => node.admin<ClusterNodeState>('state'),
    kill,
    stop: () =>
      (stopping ??= (async () => {
        if (!alive) return;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      })()),
    log: () => output,
  };
  return node;
}
