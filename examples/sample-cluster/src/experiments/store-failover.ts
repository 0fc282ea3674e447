import { SampleCluster } from '../sample-cluster.js';
import { CookieClient, type CountAnswer } from './cookie-client.js';
import { percentile, pool, type ExperimentResult } from './table.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The `store` strategy on Redis with Sentinel (a master, two replicas, `waitReplicas: 1`):
 * `size` clients make sessions, the Redis master is killed (SIGKILL) while clients keep
 * requesting, Sentinel promotes a replica, and every client checks its counter went on.
 * The outage window is the time from the kill to the last failed request.
 */
export async function storeFailover(size: number): Promise<ExperimentResult> {
  const cluster = await new SampleCluster({ strategy: 'store', store: 'redis', replicas: 2, port: 0, healthIntervalMs: 300 }).start();
  try {
    const clients = Array.from({ length: size }, () => new CookieClient());
    const counts = new Map<CookieClient, number>();
    await pool(clients, 16, async (c) => {
      counts.set(c, (await c.json<CountAnswer>(`${cluster.url}/api/count`)).count);
    });
    const master = cluster.backends()[0]!;
    let failed = 0;
    let served = 0;
    let lastFailure = 0;
    const latencies: number[] = [];
    let stop = false;
    // While the master is down, requests keep coming: each client's counter moves only on success.
    const load = pool(clients, 8, async (c) => {
      while (!stop) {
        const t = performance.now();
        try {
          const r = await c.json<CountAnswer>(`${cluster.url}/api/count`);
          counts.set(c, r.count);
          served++;
          latencies.push(performance.now() - t);
        } catch {
          failed++;
          lastFailure = Date.now();
          await sleep(20);
        }
        await sleep(5);
      }
    });
    await sleep(500);
    const killedAt = Date.now();
    await master.process.kill();
    // Wait until requests have succeeded for a while after the last failure (or give up).
    const deadline = killedAt + 30_000;
    while (Date.now() < deadline && (lastFailure === 0 ? Date.now() - killedAt < 5000 : Date.now() - lastFailure < 1500)) await sleep(50);
    stop = true;
    await load;
    const outageMs = lastFailure === 0 ? 0 : lastFailure - killedAt;
    let lost = 0;
    let landed = 0;
    await pool(clients, 16, async (c) => {
      const before = counts.get(c)!;
      let r: CountAnswer | undefined;
      // A node whose store client is still reconnecting answers 503: ask again, as a user would.
      for (let attempt = 0; !r; attempt++) {
        try {
          r = await c.json<CountAnswer>(`${cluster.url}/api/count`);
        } catch (err) {
          if (attempt >= 20) throw err;
          await sleep(250);
        }
      }
      // Lower than expected: an acknowledged write is gone. Higher: a write answered 503 (its
      // replica did not confirm in time) still reached the promoted replica.
      if (r.count <= before) lost++;
      else if (r.count > before + 1) landed++;
    });
    return {
      name: 'store-failover',
      title: 'store on Redis + Sentinel: the master dies',
      command: `npm run experiment -- store-failover --size ${size}`,
      columns: ['sessions', 'lost', 'requests served', 'requests failed (503)', 'outage window (ms)', 'p99 latency (ms)', 'failed writes that landed'],
      rows: [[size, lost, served, failed, outageMs, Math.round(percentile(latencies, 0.99)), landed]],
      notes: [
        'Every write waited for one replica (`waitReplicas: 1`), so Sentinel promoted a replica that held every acknowledged session: none is lost. During the outage window (Sentinel\'s `down-after-milliseconds` of 1 s plus the promotion and the clients\' reconnection) writes fail with a clear 503 instead of hanging or claiming a save that did not happen. A write answered 503 may still have reached the promoted replica (last column): a 503 means "not confirmed", not "not written".',
      ],
    };
  } finally {
    await cluster.close();
  }
}
