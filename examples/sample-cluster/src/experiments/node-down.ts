import { SampleCluster } from '../sample-cluster.js';
import { CookieClient, type CountAnswer } from './cookie-client.js';
import { pool, type ExperimentResult } from './table.js';

const VICTIM = 'node-2';
const FIRST_ROUND = 3;

/** Milliseconds from `since` until the proxy shows `id` down. */
async function waitDown(cluster: SampleCluster, id: string, since: number, timeoutMs = 15_000): Promise<number> {
  const started = since;
  while (cluster.proxy?.stats().targets.find((t) => t.id === id)?.state !== 'down') {
    if (Date.now() - started > timeoutMs) throw new Error(`${id} not seen down within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

/**
 * `size` clients each make a session (3 requests), `node-2` is killed (SIGKILL), and each client
 * makes one more request: a client whose counter starts over lost its session.
 */
export async function nodeDown(strategy: 'sticky' | 'cluster', size: number): Promise<ExperimentResult> {
  const cluster = await new SampleCluster({ strategy, transport: 'redis', port: 0, healthIntervalMs: 300 }).start();
  try {
    const clients = Array.from({ length: size }, () => new CookieClient());
    const home = new Map<CookieClient, string>();
    await pool(clients, 16, async (c) => {
      for (let i = 0; i < FIRST_ROUND; i++) home.set(c, (await c.json<CountAnswer>(`${cluster.url}/api/count`)).node);
    });
    const onVictim = clients.filter((c) => home.get(c) === VICTIM).length;
    const sessionsBefore = clients.length;
    const killedAt = Date.now();
    await cluster.kill(VICTIM);
    const seenDown = waitDown(cluster, VICTIM, killedAt);
    let errors = 0;
    let lost = 0;
    let lostElsewhere = 0;
    await pool(clients, 16, async (c) => {
      try {
        const r = await c.json<CountAnswer>(`${cluster.url}/api/count`);
        if (r.count !== FIRST_ROUND + 1) {
          lost++;
          if (home.get(c) !== VICTIM) lostElsewhere++;
        }
      } catch {
        errors++;
      }
    });
    const detectMs = await seenDown;
    const pct = (n: number) => Math.round((n / sessionsBefore) * 1000) / 10;
    return {
      name: `${strategy}-node-down`,
      title: `${strategy}: sessions lost when a node dies`,
      command: `npm run experiment -- ${strategy}-node-down --size ${size}`,
      columns: ['strategy', 'sessions', `on ${VICTIM} (killed)`, 'lost', 'lost %', `${VICTIM}'s share %`, 'lost on other nodes', 'failed requests', 'proxy saw it down (ms)'],
      rows: [[strategy, sessionsBefore, onVictim, lost, pct(lost), pct(onVictim), lostElsewhere, errors, detectMs]],
      notes:
        strategy === 'sticky'
          ? ['With `sticky`, a session lives in one node\'s memory: the dead node\'s share of sessions is lost (those users are logged out), the others are untouched. The proxy re-dispatches the lost clients to another node at once (a refused connection is retried), so no request fails.']
          : ['With `cluster`, every node holds every session: when a node dies its clients move to another node and their sessions are there. Nothing is lost.'],
    };
  } finally {
    await cluster.close();
  }
}
