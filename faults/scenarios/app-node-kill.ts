import { TOPOLOGY_NAMES } from '../topology.js';
import { VICTIM_NODE, type Fault } from './fault.js';

/** SIGKILL of an app node: a crash, no goodbye. The proxy re-dispatches its clients. */
export const appNodeKill: Fault = {
  name: 'app-node-kill',
  title: 'SIGKILL of an app node',
  appliesTo: TOPOLOGY_NAMES,
  async inject(t) {
    await t.node(VICTIM_NODE).kill('SIGKILL');
    return { victimNode: VICTIM_NODE, detail: `SIGKILL ${VICTIM_NODE}` };
  },
  async restore(t) {
    await t.node(VICTIM_NODE).start();
    await t.waitAllUp();
  },
};
