import type { TopologyName } from '../topology.js';
import { appNodeKill } from './app-node-kill.js';
import { appNodePause } from './app-node-pause.js';
import type { Fault } from './fault.js';
import { hazelcastMemberKill } from './hazelcast-member-kill.js';
import { proxyRestart } from './proxy-restart.js';
import { pubsubKill } from './pubsub-kill.js';
import { redisClusterMasterKill } from './redis-cluster-master-kill.js';
import { redisSlow } from './redis-slow.js';
import { sentinelMasterKill } from './sentinel-master-kill.js';

export type { Fault, Injection } from './fault.js';

/**
 * Every fault, in the order a topology runs them: the ones that leave the servers as they were
 * first, the ones that kill a server last (its restore is the slowest).
 */
export const FAULTS: readonly Fault[] = [appNodeKill, appNodePause, proxyRestart, pubsubKill, redisSlow, sentinelMasterKill, redisClusterMasterKill, hazelcastMemberKill];

/** The fault named `name`, or an error listing the names. */
export function faultNamed(name: string): Fault {
  const f = FAULTS.find((x) => x.name === name);
  if (!f) throw new Error(`no fault ${JSON.stringify(name.slice(0, 40))}; the faults are ${FAULTS.map((x) => x.name).join(', ')}`);
  return f;
}

/** The faults that apply to `topology`, in run order. */
export function faultsFor(topology: TopologyName): Fault[] {
  return FAULTS.filter((f) => f.appliesTo.includes(topology));
}
