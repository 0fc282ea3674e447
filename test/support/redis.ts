import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { eventually, freePort, waitForPort } from './ports.js';

const PROVISION_HINT = 'run: npm run provision';

/** One server process (redis-server, redis-sentinel, a Hazelcast member) that a test can kill and bring back. */
export interface ServerProcess {
  readonly name: string;
  readonly port: number;
  /** True between start and exit. */
  readonly alive: boolean;
  readonly pid: number | undefined;
  /** Sends `signal` and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the process again with the same arguments (same port) and waits until it listens. */
  restart(): Promise<void>;
  /** Stops it (SIGTERM, then SIGKILL after 3 s). Safe to call twice. */
  stop(): Promise<void>;
  /** The last lines it wrote, for failure messages. */
  log(): string;
}

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  port: number;
  cwd: string;
  /** Resolves once the process serves; defaults to waiting for its TCP port. */
  ready?: () => Promise<void>;
  readyTimeoutMs?: number;
}

// Every child still running when the test process exits is killed, so a failed or interrupted
// run never leaves servers behind on the machine.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Spawns a server process and waits until it is ready; a missing binary says how to install it. */
export async function startProcess(spec: ProcessSpec): Promise<ServerProcess> {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  let stopped = false;

  const launch = async (): Promise<void> => {
    output = '';
    const proc = spawn(spec.command, spec.args, { cwd: spec.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    running.add(proc);
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-8000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let spawnError: Error | undefined;
    exited = new Promise<void>((resolve) => {
      proc.once('error', (err) => {
        spawnError = err;
        running.delete(proc);
        resolve();
      });
      proc.once('exit', () => {
        running.delete(proc);
        resolve();
      });
    });
    const failed = exited.then(() => {
      if ((spawnError as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
        throw new Error(`${spec.command} is not installed (${spawnError?.message}); ${PROVISION_HINT}`);
      }
      throw new Error(`${spec.name} exited before it was ready${spawnError ? `: ${spawnError.message}` : ''}\n${output}`);
    });
    const ready = spec.ready ?? (() => waitForPort(spec.port, spec.readyTimeoutMs ?? 10_000));
    try {
      await Promise.race([ready(), failed]);
    } catch (err) {
      proc.kill('SIGKILL');
      throw err;
    }
    failed.catch(() => undefined);
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };

  await launch();
  return {
    name: spec.name,
    port: spec.port,
    get alive() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    get pid() {
      return child?.pid;
    },
    kill,
    async restart() {
      await kill('SIGKILL');
      stopped = false;
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const timer = setTimeout(() => child?.kill('SIGKILL'), 3000);
      await kill('SIGTERM');
      clearTimeout(timer);
    },
    log: () => output,
  };
}

/** A temporary folder removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `scaleout-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

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

/** The `INFO <section>` of a server as a map of fields. */
export async function redisInfo(port: number, password: string | undefined, section: string): Promise<Map<string, string>> {
  const text = String(await redisCommand(port, password, 'INFO', section));
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  return fields;
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

/** Writes `text` to `name` inside `dir` and returns the path. */
export function writeFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
