import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debuglog } from 'node:util';
import { BackendMissingError, StartFailedError } from './errors.js';
import { logTail, ManagedProcess } from './children.js';
import { waitForPort } from './ports.js';

const debug = debuglog('scaleout:sample-backends');

/** The member jar that `npm run provision` fetches (or `$HAZELCAST_JAR`). */
export const HAZELCAST_JAR = process.env.HAZELCAST_JAR ?? fileURLToPath(new URL('../../../.cache/hazelcast/hazelcast-5.5.0.jar', import.meta.url));

/** A server the launcher started: Redis, a Sentinel or a Hazelcast member. */
export interface Backend {
  readonly name: string;
  readonly port: number;
  readonly process: ManagedProcess;
}

async function launch(name: string, command: string, args: string[], port: number, dir: string, missing: string, readyMs = 10_000): Promise<Backend> {
  const proc = new ManagedProcess({ name, kind: 'exec', command, args, cwd: dir, logFile: join(dir, `${name.replace(/[^a-z0-9-]+/gi, '-')}.log`), missing });
  await proc.start();
  try {
    await waitForPort(port, readyMs, proc.exited, name);
  } catch (err) {
    await proc.stop(500);
    throw new StartFailedError(`${(err as Error).message}:\n${logTail(proc.spec.logFile)}`, { cause: err });
  }
  debug('%s ready on %d', name, port);
  return { name, port, process: proc };
}

function redisArgs(port: number, dir: string): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--daemonize', 'no'];
}

/** One `redis-server` on `port`, data in `dir`. */
export async function startRedisServer(port: number, dir: string, extra: string[] = []): Promise<Backend> {
  const data = join(dir, `redis-${port}`);
  mkdirSync(data, { recursive: true });
  return launch(`redis-${port}`, 'redis-server', [...redisArgs(port, data), ...extra], port, dir, 'redis-server');
}

/** Sends one inline command to a Redis server and resolves with its raw answer. */
export function redisInline(port: number, command: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let out = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new StartFailedError(`redis :${port} did not answer ${command} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (c) => {
      out += c.toString('utf8');
      // A bulk string: $<len>\r\n<body>\r\n, complete once the body is in.
      const m = /^\$(\d+)\r\n/.exec(out);
      if ((m && Buffer.byteLength(out) >= m[0].length + Number(m[1]) + 2) || (!m && out.endsWith('\r\n'))) {
        clearTimeout(timer);
        socket.end();
        resolve(out);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function waitForReplicas(masterPort: number, count: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await redisInline(masterPort, 'INFO replication').catch(() => '');
    const online = (info.match(/^slave\d+:.*state=online/gm) ?? []).length;
    if (online >= count) return;
    if (Date.now() > deadline) throw new StartFailedError(`redis :${masterPort} has ${online} of ${count} replicas online after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
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
    await waitForReplicas(ports.master, ports.replicas.length);
    const conf = join(dir, `sentinel-${ports.sentinel}.conf`);
    // Sentinel rewrites its config file, so each run gets its own.
    writeFileSync(
      conf,
      [
        `port ${ports.sentinel}`,
        'bind 127.0.0.1',
        'protected-mode no',
        `sentinel monitor ${name} 127.0.0.1 ${ports.master} 1`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} ${Math.max(3000, downAfterMs * 3)}`,
        `sentinel parallel-syncs ${name} ${Math.max(1, ports.replicas.length)}`,
        '',
      ].join('\n'),
    );
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
  if (!existsSync(HAZELCAST_JAR)) throw new BackendMissingError(`the Hazelcast member jar (${HAZELCAST_JAR})`);
  const xml = join(dir, `hazelcast-${port}.xml`);
  writeFileSync(
    xml,
    `<?xml version="1.0" encoding="UTF-8"?>
<hazelcast xmlns="http://www.hazelcast.com/schema/config">
  <cluster-name>${clusterName}</cluster-name>
  <properties>
    <property name="hazelcast.phone.home.enabled">false</property>
    <property name="hazelcast.wait.seconds.before.join">0</property>
    <property name="hazelcast.logging.type">jdk</property>
  </properties>
  <network>
    <port auto-increment="false">${port}</port>
    <interfaces enabled="true"><interface>127.0.0.1</interface></interfaces>
    <join>
      <auto-detection enabled="false"/>
      <multicast enabled="false"/>
      <tcp-ip enabled="true">${memberPorts.map((p) => `<member>127.0.0.1:${p}</member>`).join('')}</tcp-ip>
    </join>
  </network>
  <jet enabled="false"/>
  <map name="default"><backup-count>1</backup-count></map>
</hazelcast>
`,
  );
  // A small heap and the quick JIT tier start a member in seconds on a small machine.
  const args = ['-Xms64m', '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.net.preferIPv4Stack=true', `-Dhazelcast.config=${xml}`, '-cp', HAZELCAST_JAR, 'com.hazelcast.core.server.HazelcastMemberStarter'];
  return launch(`hazelcast-${port}`, 'java', args, port, dir, 'java (a JRE, for the Hazelcast member)', 90_000);
}
