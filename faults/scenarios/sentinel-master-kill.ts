import { waitForReplicaLink } from '@scaleout/harness';
import type { Topology } from '../topology.js';
import { need, type Fault } from './fault.js';

const killedPort = new WeakMap<Topology, number>();

function processOn(t: Topology, port: number) {
  const set = need(t.sentinel, 'Sentinel set', t);
  const found = [set.redis.master, ...set.redis.replicas].find((p) => p.port === port);
  if (!found) throw new Error(`no Redis process of ${t.name} on :${port}`);
  return found;
}

/** SIGKILL of the Redis master under Sentinel: Sentinel promotes a replica that has every write WAIT confirmed. */
export const sentinelMasterKill: Fault = {
  name: 'sentinel-master-kill',
  title: 'SIGKILL of the Redis master under Sentinel',
  appliesTo: ['store-sentinel'],
  async inject(t) {
    const port = await need(t.sentinel, 'Sentinel set', t).masterPort();
    killedPort.set(t, port);
    await processOn(t, port).kill('SIGKILL');
    return { detail: `SIGKILL of the master :${port}` };
  },
  async restore(t) {
    const port = killedPort.get(t);
    if (port === undefined) return;
    const set = need(t.sentinel, 'Sentinel set', t);
    await set.waitForFailover(port, 30_000);
    // Back empty (no persistence); Sentinel turns it into a replica of the new master.
    await processOn(t, port).restart();
    await waitForReplicaLink(port, undefined, 30_000);
    await t.waitAllUp();
  },
};
