import { redisCommand } from '@scaleout/harness';
import type { Topology } from '../topology.js';
import { need, sleep, type Fault } from './fault.js';

/** How long Redis stays unresponsive. */
export const SLOW_MS = 2000;

async function slowDown(t: Topology): Promise<string> {
  if (t.name === 'cluster-redis') {
    // The whole server sleeps: no PUBLISH, no delivery, for 2 s.
    await need(t.redis, 'Redis', t).command('DEBUG', 'SLEEP', SLOW_MS / 1000);
    return `DEBUG SLEEP ${SLOW_MS / 1000} on the pub/sub Redis`;
  }
  // Writes wait; reads, replication and the Sentinel and cluster-bus pings go on, so this is a
  // slow master, not a dead one (DEBUG SLEEP would make Sentinel or the cluster fail it over).
  const ports = t.name === 'store-sentinel' ? [await need(t.sentinel, 'Sentinel set', t).masterPort()] : await need(t.redisCluster, 'Redis Cluster', t).masterPorts();
  await Promise.all(ports.map((port) => redisCommand(port, undefined, 'CLIENT', 'PAUSE', SLOW_MS, 'WRITE')));
  await sleep(SLOW_MS);
  return `CLIENT PAUSE ${SLOW_MS} WRITE on ${ports.length === 1 ? 'the master' : `all ${ports.length} masters`}`;
}

/** A Redis that answers nothing (pub/sub) or no write (stores) for 2 s. */
export const redisSlow: Fault = {
  name: 'redis-slow',
  title: `slow Redis for ${SLOW_MS / 1000} s (DEBUG SLEEP / CLIENT PAUSE WRITE)`,
  appliesTo: ['cluster-redis', 'store-sentinel', 'store-redis-cluster'],
  async inject(t) {
    return { detail: await slowDown(t) };
  },
  async restore(t) {
    await t.waitAllUp();
  },
};
