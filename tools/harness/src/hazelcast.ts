import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ServerMissingError } from './errors.js';
import { eventually, freePort, onFreePort } from './ports.js';
import { startProcess, tempDir, writeFile, type ServerProcess } from './server-process.js';

/** The member jar that `npm run provision` fetches, found from the repository root (or `$HAZELCAST_JAR`). */
export const HAZELCAST_JAR = process.env.HAZELCAST_JAR ?? fileURLToPath(new URL('../../../.cache/hazelcast/hazelcast-5.5.0.jar', import.meta.url));

/** Throws {@link ServerMissingError} (saying how to provision) when the member jar is missing. */
export function requireHazelcastJar(): void {
  if (!existsSync(HAZELCAST_JAR)) throw new ServerMissingError(`the Hazelcast member jar (${HAZELCAST_JAR})`);
}

/** A Hazelcast cluster of real members, as started by {@link startHazelcast}. */
export interface HazelcastCluster extends AsyncDisposable {
  readonly clusterName: string;
  readonly members: ServerProcess[];
  /** `host:port` of every member, as the config's `members` takes them. */
  readonly addresses: string[];
  readonly backupCount: number;
  /** Resolves once every live member sees `size` members. */
  waitForSize(size: number, timeoutMs?: number): Promise<void>;
  /** Stops every member and removes the folder. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartHazelcastOptions {
  /** @default 1 */
  members?: number;
  /** The map `backup-count` (synchronous backups of each entry on other members). @default 1 */
  backupCount?: number;
  /** @default "scaleout-test" */
  clusterName?: string;
}

/** One member's place in its cluster, for {@link hazelcastMemberXml}. */
export interface HazelcastMemberConfig {
  clusterName: string;
  /** The member's own port (no auto-increment). */
  port: number;
  /** Ports of every member of the cluster, this one included: the TCP/IP join list. */
  ports: number[];
  /** The default map's synchronous `backup-count`. */
  backupCount: number;
}

/**
 * The member XML every harness member runs: loopback only, TCP/IP join, fast heartbeats (a killed
 * member is noticed within seconds), no phone-home, no Jet.
 */
export function hazelcastMemberXml({ clusterName, port, ports, backupCount }: HazelcastMemberConfig): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<hazelcast xmlns="http://www.hazelcast.com/schema/config"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
           xsi:schemaLocation="http://www.hazelcast.com/schema/config http://www.hazelcast.com/schema/config/hazelcast-config-5.5.xsd">
  <cluster-name>${clusterName}</cluster-name>
  <properties>
    <property name="hazelcast.phone.home.enabled">false</property>
    <property name="hazelcast.wait.seconds.before.join">0</property>
    <property name="hazelcast.heartbeat.interval.seconds">1</property>
    <property name="hazelcast.max.no.heartbeat.seconds">5</property>
    <property name="hazelcast.partition.migration.interval">0</property>
    <property name="hazelcast.logging.type">jdk</property>
  </properties>
  <network>
    <port auto-increment="false">${port}</port>
    <interfaces enabled="true"><interface>127.0.0.1</interface></interfaces>
    <join>
      <auto-detection enabled="false"/>
      <multicast enabled="false"/>
      <tcp-ip enabled="true" connection-timeout-seconds="2">
        <member-list>
${ports.map((p) => `          <member>127.0.0.1:${p}</member>`).join('\n')}
        </member-list>
      </tcp-ip>
    </join>
  </network>
  <jet enabled="false"/>
  <map name="default">
    <backup-count>${backupCount}</backup-count>
    <async-backup-count>0</async-backup-count>
  </map>
</hazelcast>
`;
}

/** The cluster size a member last logged (`Members {size:2, ver:2} [...]`). */
function lastMemberCount(log: string): number | undefined {
  const all = [...log.matchAll(/Members \{size:(\d+),/g)];
  return all.length ? Number(all[all.length - 1]![1]) : undefined;
}

// A small heap and the quickest JIT tier start a member in a few seconds on a shared machine.
const JVM_FLAGS = ['-Xms64m', '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto', '-Djava.net.preferIPv4Stack=true'];

/** The `java` arguments that run one member from the jar with the XML at `configFile`. */
export function hazelcastMemberArgs(configFile: string): string[] {
  return [...JVM_FLAGS, `-Dhazelcast.config=${configFile}`, '-cp', HAZELCAST_JAR, 'com.hazelcast.core.server.HazelcastMemberStarter'];
}

/**
 * Starts `members` Hazelcast members (java, the provisioned jar) on free ports in a temporary
 * folder, joined over TCP/IP, every map with `backupCount` synchronous backups. Resolves once
 * each member sees the whole cluster.
 */
export async function startHazelcast(options: StartHazelcastOptions = {}): Promise<HazelcastCluster> {
  const { members: count = 1, backupCount = 1, clusterName = 'scaleout-test' } = options;
  requireHazelcastJar();
  const tmp = tempDir('hazelcast');
  const members: ServerProcess[] = [];
  const stop = async () => {
    await Promise.all(members.map((m) => m.stop()));
    tmp.remove();
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) ports.push(await freePort());
    const started = await Promise.allSettled(
      ports.map((first, i) =>
        // A member that lost its port to another process starts on another: it names the
        // others, so it still joins them.
        onFreePort((port) => {
          ports[i] = port;
          const config = writeFile(tmp.dir, `hazelcast-${port}.xml`, hazelcastMemberXml({ clusterName, port, ports, backupCount }));
          return startProcess({
            name: `hazelcast member :${port}`,
            command: 'java',
            args: hazelcastMemberArgs(config),
            port,
            cwd: tmp.dir,
            readyTimeoutMs: 60_000,
          });
        }, { first }),
      ),
    );
    for (const s of started) if (s.status === 'fulfilled') members.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const waitForSize = async (size: number, timeoutMs = 60_000) => {
      await Promise.all(
        members
          .filter((m) => m.alive)
          .map((m) => eventually(() => lastMemberCount(m.log()) === size, timeoutMs, `member :${m.port} sees ${size} member(s)`)),
      );
    };
    await waitForSize(count);
    let stopping: Promise<void> | undefined;
    return {
      clusterName,
      members,
      addresses: ports.map((p) => `127.0.0.1:${p}`),
      backupCount,
      waitForSize,
      stop: () => (stopping ??= stop()),
      [Symbol.asyncDispose]: () => (stopping ??= stop()),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
