import { TOPOLOGY_NAMES } from '../topology.js';
import { sleep, VICTIM_NODE, type Fault } from './fault.js';

/** How long the node stays frozen: longer than the proxy waits for an answer (3 s), so it gives up on the requests the node holds. */
export const PAUSE_MS = 5000;

/**
 * SIGSTOP, then SIGCONT 3 s later: a node frozen (a long GC pause, a stalled VM) with its
 * sockets open, so connections succeed and answers never come. The proxy answers 504 after its
 * server timeout, its health checks call the node down and its clients are re-dispatched;
 * when the node wakes it finishes whatever it had read meanwhile.
 */
export const appNodePause: Fault = {
  name: 'app-node-pause',
  title: `SIGSTOP of an app node, SIGCONT ${PAUSE_MS / 1000} s later`,
  appliesTo: TOPOLOGY_NAMES,
  async inject(t) {
    const node = t.node(VICTIM_NODE);
    node.pause();
    try {
      await sleep(PAUSE_MS);
    } finally {
      node.resume();
    }
    return { victimNode: VICTIM_NODE, detail: `SIGSTOP ${VICTIM_NODE} for ${PAUSE_MS} ms` };
  },
  async restore(t) {
    await t.waitAllUp();
  },
};
