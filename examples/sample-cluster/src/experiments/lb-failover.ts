import { LbPair, type Failover, type Lb } from '@scaleout/harness';
import type { ExperimentResult } from './table.js';

const CLIENT_TIMEOUT_MS = 2000;
const RESTART_AFTER_MS = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function row(setup: string, fault: string, f: Failover): (string | number)[] {
  return [setup, fault, f.windowMs, f.requests, f.failed, Math.round(f.failedInWindowPct), f.maxLatencyMs, f.lostSessions];
}

/**
 * The balancer as a single point of failure, and what VRRP does about it: `size` users with
 * sessions (`store` on Redis) keep requesting through one address while the proxy behind it is
 * killed. Runs in network namespaces (root, iproute2 and keepalived needed), as the failover
 * test does: one proxy alone, then two proxies with keepalived, then the same pair with clients
 * that retry idempotent requests through `@scaleout/balancer`.
 */
export async function lbFailover(size: number): Promise<ExperimentResult> {
  const rows: (string | number)[][] = [];
  const load = { clients: size, timeoutMs: CLIENT_TIMEOUT_MS };

  const single = await LbPair.start({ strategy: 'store', vrrp: false });
  try {
    const f = await single.failover(
      async () => {
        await single.proxies.lb1.signal('SIGKILL');
        await sleep(RESTART_AFTER_MS);
        await single.proxies.lb1.start();
      },
      'lb1',
      { ...load, sameMachine: true },
    );
    rows.push(row('one proxy', `proxy SIGKILLed, restarted after ${RESTART_AFTER_MS / 1000} s`, f));
  } finally {
    await single.close();
  }

  const pair = await LbPair.start({ strategy: 'store', nopreempt: true });
  try {
    const kill = async (setup: string, retry: boolean) => {
      const active = await pair.waitHolder();
      const f = await pair.failover(() => pair.proxies[active].signal('SIGKILL'), pair.other(active), { ...load, retry });
      rows.push(row(setup, 'active proxy SIGKILLed', f));
      await pair.restartProxy(active);
    };
    await kill('two proxies + VRRP', false);

    const active: Lb = await pair.waitHolder();
    const dead = await pair.failover(() => pair.keepalived[active].kill(), pair.other(active), load);
    rows.push(row('two proxies + VRRP', 'active keepalived SIGKILLed (machine lost)', dead));
    await pair.restartKeepalived(active);

    const drain = async (setup: string, retry: boolean) => {
      const from = await pair.waitHolder();
      const f = await pair.failover(async () => pair.proxies[from].signal('SIGUSR2'), pair.other(from), { ...load, retry });
      rows.push(row(setup, 'drain (SIGUSR2), graceful', f));
      await pair.proxies[from].signal('SIGTERM');
      await pair.restartProxy(from);
    };
    await drain('two proxies + VRRP', false);

    await kill('two proxies + VRRP + client retries', true);
    await drain('two proxies + VRRP + client retries', true);
  } finally {
    await pair.close();
  }

  return {
    name: 'lb-failover',
    title: 'the balancer dies: one proxy, two with VRRP (keepalived), and clients that retry',
    command: `npm run experiment -- lb-failover --size ${size}`,
    columns: ['setup', 'fault', 'window (ms)', 'requests', 'failed', 'failed in window (%)', 'slowest request (ms)', 'sessions lost'],
    rows,
    notes: [
      `Window: from the fault until the address answers again (through the standby, or through the restarted proxy when there is only one). ${size} users with sessions (\`store\` on Redis), each pausing 25 ms between requests, client timeout ${CLIENT_TIMEOUT_MS / 1000} s; keepalived with \`advert_int 1\`, the exported check every second with \`fall 2\`, priorities 200 and 150, \`nopreempt\`.`,
      'One proxy is a single point of failure: every request fails until someone restarts it. With VRRP a killed proxy is noticed by the check (fall 2) and given up at once (FAULT sends priority 0), so the standby answers within about two check intervals; a machine that dies (its keepalived gone) is noticed after 3 missed adverts plus the skew time. A refused connection fails at once, which is why so many requests fail in a short window. A drain fails no request that reached the old proxy (each proxy machine also holds the VIP on `lo`, silent on the wire, so answers in flight still leave the old machine); at most a connection opened in the instant of the move is reset. Clients that retry idempotent requests (10 tries, backoff up to 500 ms) see the window as slower answers, as long as their backoff outlasts it. Sessions live in Redis, not in the proxy: none is lost.',
    ],
  };
}
