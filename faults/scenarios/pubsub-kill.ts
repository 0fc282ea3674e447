import type { Fault } from './fault.js';
import { need, sleep } from './fault.js';

/**
 * `CLIENT KILL TYPE pubsub` on the Redis the cluster strategy replicates through: every node's
 * subscriber connection is cut at once. Whatever is published before a node has subscribed
 * again is lost for it (pub/sub is at most once); sequence gaps, the reconnect and anti-entropy
 * must repair it.
 */
export const pubsubKill: Fault = {
  name: 'pubsub-kill',
  title: 'CLIENT KILL TYPE pubsub',
  appliesTo: ['cluster-redis'],
  async inject(t) {
    const killed = await need(t.redis, 'Redis', t).command('CLIENT', 'KILL', 'TYPE', 'pubsub');
    return { detail: `${String(killed)} subscriber connection(s) killed` };
  },
  async restore() {
    // The nodes subscribe again on their own; give them a moment before the next scenario.
    await sleep(1000);
  },
};
