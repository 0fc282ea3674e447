import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { startClusterNode, type ClusterNodeProcess } from './support/cluster-node.js';
import { eventually, type RedisServer, startRedis } from '@scaleout/harness';

interface Client {
  cookie?: string;
  /** The count of the last response that said 200: the save was confirmed. */
  confirmed: number;
}

async function count(node: ClusterNodeProcess, client: Client): Promise<boolean> {
  try {
    const res = await fetch(`${node.url}/count`, { headers: client.cookie ? { cookie: client.cookie } : {} });
    if (res.status !== 200) return false;
    const set = res.headers.getSetCookie().find((c) => c.startsWith('sid='));
    if (set) client.cookie = set.split(';')[0];
    client.confirmed = ((await res.json()) as { count: number }).count;
    return true;
  } catch {
    return false; // the node died under this request: nothing was confirmed
  }
}

describe('cluster strategy: a node killed with SIGKILL under load loses no session', function () {
  this.timeout(90_000);
  let redis: RedisServer;
  const nodes: ClusterNodeProcess[] = [];

  const channel = `kill-${randomUUID()}`;

  before(async function () {
    redis = await startRedis();
    for (const nodeId of ['node-a', 'node-b', 'node-c']) nodes.push(await startClusterNode({ nodeId, redisUrl: redis.url, channel }));
  });
  after(async function () {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
  });

  it('serves every confirmed session from the surviving nodes, with its last confirmed count', async function () {
    const [, , victim] = nodes as [ClusterNodeProcess, ClusterNodeProcess, ClusterNodeProcess];
    const clients: Client[] = Array.from({ length: 200 }, () => ({ confirmed: 0 }));
    let killed = false;
    let rounds = 0;
    let failedOnVictim = 0;
    // Each round, every client makes one request to a node picked round-robin; client i moves on
    // to the next node each round, as a load balancer without stickiness would send it.
    const load = (async () => {
      while (rounds < 12) {
        await Promise.all(
          clients.map(async (client, i) => {
            const live = nodes.filter((n) => n.alive && !(killed && n === victim));
            const node = live[(i + rounds) % live.length]!;
            if (!(await count(node, client)) && node === victim) failedOnVictim++;
          }),
        );
        rounds++;
      }
    })();
    while (rounds < 5) await new Promise((r) => setTimeout(r, 10));
    killed = true;
    await victim.kill('SIGKILL');
    await load;
    expect(victim.alive).to.equal(false);
    const survivors = nodes.filter((n) => n !== victim);
    let lost = 0;
    for (const [i, client] of clients.entries()) {
      expect(client.cookie, `client ${i} has a session`).to.be.a('string');
      for (const node of survivors) {
        const res = await fetch(`${node.url}/peek`, { headers: { cookie: client.cookie! } });
        const body = (await res.json()) as { count: number | null };
        if (body.count === null || body.count < client.confirmed) lost++;
      }
    }
    expect(lost, `sessions lost or behind (requests that failed on the victim: ${failedOnVictim})`).to.equal(0);
    expect(clients.every((c) => c.confirmed >= 7)).to.equal(true);
  });

  it('takes the killed node back under the same id: it copies a snapshot and serves every session', async function () {
    const restarted = await startClusterNode({ nodeId: 'node-c', redisUrl: redis.url, channel });
    nodes.push(restarted);
    const state = await restarted.state();
    expect(state.stats.snapshotsReceived).to.equal(1);
    expect(state.size).to.be.at.least(200);
    await eventually(async () => (await restarted.state()).digest === (await nodes[0]!.state()).digest, 5000, 'the restarted node converged');
  });
});
