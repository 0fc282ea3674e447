import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { debuglog } from 'node:util';
import {
  baseRedisArgs,
  hazelcastMemberArgs,
  hazelcastMemberXml,
  logTail,
  ManagedProcess,
  requireHazelcastJar,
  sentinelConfig,
  ServerMissingError,
  waitForPort,
  waitForReplicas,
  writeFile,
} from '@scaleout/harness';
import { BackendMissingError, StartFailedError } from './errors.js';

const debug = debuglog('scaleout:sample-backends');

/** A server the launcher started: Redis, a Sentinel or a Hazelcast member. */
export interface Backend {
  readonly name: string;
  readonly port: number;
  readonly process: ManagedProcess;
}

// The harness's errors become the sample's own, whose codes the launcher prints.
function sampleError(err: unknown, message: string): Error {
  if (err instanceof ServerMissingError) return new BackendMissingError(err.what, { cause: err });
  if (err instanceof BackendMissingError || err instanceof StartFailedError) return err;
  return new StartFailedError(message, { cause: err });
}

async function launch(name: string, command: string, args: string[], port: number, dir: string, missing: string, readyMs = 10_000): Promise<Backend> {
  const proc = new ManagedProcess({ name, kind: 'exec', command, args, cwd: dir, logFile: join(dir, `${name.replace(/[^a-z0-9-]+/gi, '-')}.log`), missing });
  try {
    await proc.start();
    await waitForPort(port, readyMs, { exited: proc.exited, name });
  } catch (err) {
    await proc.stop(500);
    throw sampleError(err, `${(err as Error).message}:\n${logTail(proc.spec.logFile)}`);
  }
  debug('%s ready on %d', name, port);
  return { name, port, process: proc };
}

/** One `redis-server` on `port`, data in `dir`. */
export async function startRedisServer(port: number, dir: string, extra: string[] = []): Promise<Backend> {
  const data = join(dir, `redis-${port}`);
  mkdirSync(data, { recursive: true });
  return launch(`redis-${port}`, 'redis-server', [...baseRedisArgs(port, data, undefined), ...extra], port, dir, 'redis-server');
}

/** A master, its replicas and one Sentinel watching them as `name`. */
export interface SentinelSet {
  readonly name: string;
  readonly master: Backend;
  readonly replicas: Backend[];
  readonly sentinel: Backend;
  readonly all: Backend[];
}

/**
 * A Sentinel set for the `store` strategy: a master, its replicas (so that `waitReplicas: 1` has
 * a replica to confirm each write) and one Sentinel with quorum 1, failing over after `downAfterMs`.
 */
export async function startSentinelSet(ports: { master: number; replicas: number[]; sentinel: number }, dir: string, downAfterMs = 1000): Promise<SentinelSet> {
  const name = 'scaleout';
  const master = await startRedisServer(ports.master, dir);
  const started: Backend[] = [master];
  try {
    const replicas = await Promise.all(ports.replicas.map((p) => startRedisServer(p, dir, ['--replicaof', '127.0.0.1', String(ports.master)])));
    started.push(...replicas);
    // Until every replica is linked, `waitReplicas` writes would fail: the set is ready after that.
    await waitForReplicas(ports.master, undefined, ports.replicas.length).catch((err: unknown) => {
      throw sampleError(err, (err as Error).message);
    });
    // Sentinel rewrites its config file, so each run gets its own.
    const conf = writeFile(dir, `sentinel-${ports.sentinel}.conf`, sentinelConfig({
      port: ports.sentinel,
      dir,
      name,
      masterPort: ports.master,
      quorum: 1,
      downAfterMs,
      failoverTimeoutMs: Math.max(3000, downAfterMs * 3),
      parallelSyncs: Math.max(1, ports.replicas.length),
    }));
    const sentinel = await launch(`sentinel-${ports.sentinel}`, 'redis-sentinel', [conf], ports.sentinel, dir, 'redis-sentinel');
    started.push(sentinel);
    return { name, master, replicas, sentinel, all: started };
  } catch (err) {
    await Promise.all(started.map((b) => b.process.stop(1000)));
    throw err;
  }
}

/** One Hazelcast member (java + the provisioned jar) on `port`, cluster `clusterName`. */
export async function startHazelcastMember(port: number, dir: string, clusterName: string, memberPorts: number[] = [port]): Promise<Backend> {
  try {
    requireHazelcastJar();
  } catch (err) {
    throw sampleError(err, (err as Error).message);
  }
  const xml = writeFile(dir, `hazelcast-${port}.xml`, hazelcastMemberXml({ clusterName, port, ports: memberPorts, backupCount: 1 }));
  return launch(`hazelcast-${port}`, 'java', hazelcastMemberArgs(xml), port, dir, 'java (a JRE, for the Hazelcast member)', 90_000);
}
