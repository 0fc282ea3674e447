import { eventually, waitForReplicaLink } from '@scaleout/harness';
import type { Topology } from '../topology.js';
import { need, type Fault } from './fault.js';

const killedPort = new WeakMap<Topology, number>();

/** SIGKILL of one Redis Cluster master: one of its replicas is promoted for its slots. */
export const redisClusterMasterKill: Fault = {
  name: 'redis-cluster-master-kill',
  title: 'SIGKILL of a Redis Cluster master',
  appliesTo: ['store-redis-cluster'],
  async inject(t) {
    const cluster = need(t.redisCluster, 'Redis Cluster', t);
    const [port] = await cluster.masterPorts();
    killedPort.set(t, port!);
    await cluster.node(port!).kill('SIGKILL');
    return { detail: `SIGKILL of the master :${port}` };
  },
  async restore(t) {
    const port = killedPort.get(t);
    if (port === undefined) return;
    const cluster = need(t.redisCluster, 'Redis Cluster', t);
    await eventually(async () => !(await cluster.masterPorts()).includes(port), 30_000, `a replica promoted in place of :${port}`);
    // It comes back with its nodes.conf and rejoins as a replica of the promoted node.
    await cluster.node(port).restart();
    await cluster.waitHealthy(30_000);
    await waitForReplicaLink(port, undefined, 30_000);
    await t.waitAllUp();
  },
};
