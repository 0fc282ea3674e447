import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_FILE, parseConfig, type ScaleoutConfig, type ScaleoutConfigInput } from '@scaleout/core';
import { startHazelcastMember, startRedisServer, startSentinelSet, type Backend } from './backends.js';
import type { ResolvedOptions } from './options.js';

/** The servers a strategy needs, started, and the config that points the nodes at them. */
export interface RunConfig {
  /** Path of the `scaleout.config.json` every node reads (`SCALEOUT_CONFIG`). */
  file: string;
  config: ScaleoutConfig;
  backends: Backend[];
  /** One line for the user: where sessions live and what that costs. */
  summary: string;
}

/** Hands out the ports of servers: counted from the base port, or free ones. */
export type PortSource = (offset: number) => Promise<number>;

const HAZELCAST_CLUSTER = 'scaleout-sample';

async function backendsFor(o: ResolvedOptions, dir: string, port: PortSource): Promise<{ backends: Backend[]; part: Partial<ScaleoutConfigInput>; summary: string }> {
  if (o.strategy === 'sticky') {
    return { backends: [], part: { strategy: 'sticky', store: { type: 'memory' } }, summary: 'sticky: sessions in node memory, the route cookie pins each client to its node; a dead node takes its sessions with it' };
  }
  if (o.strategy === 'cluster') {
    if (o.transport === 'redis') {
      const redis = await startRedisServer(await port(10), dir);
      return {
        backends: [redis],
        part: { strategy: 'cluster', cluster: { transport: { type: 'redis', url: `redis://127.0.0.1:${redis.port}`, channel: 'scaleout-sample' } } },
        summary: `cluster over Redis pub/sub (redis-server :${redis.port}): every node holds every session; memory and messages grow with nodes × sessions`,
      };
    }
    const member = await startHazelcastMember(await port(20), dir, HAZELCAST_CLUSTER);
    return {
      backends: [member],
      part: { strategy: 'cluster', cluster: { transport: { type: 'hazelcast', members: [`127.0.0.1:${member.port}`], clusterName: HAZELCAST_CLUSTER, topic: 'scaleout-sample' } } },
      summary: `cluster over a Hazelcast reliable topic (member :${member.port}): every node holds every session`,
    };
  }
  if (o.store === 'redis') {
    const replicas: number[] = [];
    for (let i = 0; i < o.replicas; i++) replicas.push(await port(11 + i));
    const set = await startSentinelSet({ master: await port(10), replicas, sentinel: await port(15) }, dir);
    return {
      backends: set.all,
      part: { strategy: 'store', store: { type: 'redis', sentinels: [`127.0.0.1:${set.sentinel.port}`], name: set.name, waitReplicas: 1, waitTimeout: '1s' } },
      summary: `store on Redis with Sentinel (master :${set.master.port}, replica${o.replicas > 1 ? 's' : ''} ${set.replicas.map((r) => `:${r.port}`).join(' ')}, sentinel :${set.sentinel.port}): every write waits for a replica; one round trip per request`,
    };
  }
  const member = await startHazelcastMember(await port(20), dir, HAZELCAST_CLUSTER);
  return {
    backends: [member],
    part: { strategy: 'store', store: { type: 'hazelcast', members: [`127.0.0.1:${member.port}`], clusterName: HAZELCAST_CLUSTER, map: 'sample-sessions' } },
    summary: `store on Hazelcast (member :${member.port}, IMap with one backup): one round trip per request`,
  };
}

/**
 * Writes `scaleout.config.json` into the run folder from the options, starting the servers the
 * strategy needs; or, with `--config`, reads the user's own file (whose servers must be running).
 */
export async function prepareRunConfig(o: ResolvedOptions, dir: string, port: PortSource): Promise<RunConfig> {
  const file = join(dir, CONFIG_FILE);
  if (o.config) {
    const text = await readFile(o.config, 'utf8');
    const config = parseConfig(JSON.parse(text));
    await writeFile(file, text);
    return { file, config, backends: [], summary: `${config.strategy}, from ${o.config}` };
  }
  const { backends, part, summary } = await backendsFor(o, dir, port);
  const input: ScaleoutConfigInput = { secret: randomBytes(24).toString('base64url'), session: { ttl: '30m', cookieName: 'sid' }, sticky: { cookieName: 'route' }, ...part } as ScaleoutConfigInput;
  const config = parseConfig(input);
  await writeFile(file, `${JSON.stringify(input, null, 2)}\n`);
  return { file, config, backends, summary };
}
