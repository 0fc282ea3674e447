import { TOPOLOGY_NAMES } from '../topology.js';
import type { Fault } from './fault.js';

/**
 * The proxy SIGKILLed and started again on its port (a crash and the supervisor's restart).
 * Stickiness lives in the clients' cookies, which every proxy with the secret reads alike, so
 * nothing about the clients is lost with the process.
 */
export const proxyRestart: Fault = {
  name: 'proxy-restart',
  title: 'proxy SIGKILLed and restarted',
  appliesTo: TOPOLOGY_NAMES,
  async inject(t) {
    const started = Date.now();
    await t.proxy.kill('SIGKILL');
    await t.proxy.start();
    return { detail: `proxy SIGKILL, listening again after ${Date.now() - started} ms` };
  },
  async restore(t) {
    await t.waitAllUp();
  },
};
