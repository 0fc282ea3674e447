import { expect } from 'chai';
import { pidAlive } from '@scaleout/harness';
import { CookieClient, groupAlive, launchSampleCluster, waitForTargetState, type LaunchedCluster } from './support/sample-cluster.js';

interface Count {
  count: number;
  node: string;
}

const CLIENTS = 20;
const REQUESTS = 10;

/** 20 clients, 10 requests each, concurrently; every client checks its own counter step by step. */
async function drive(cluster: LaunchedCluster, clients: CookieClient[]): Promise<Map<CookieClient, string>> {
  const lastNode = new Map<CookieClient, string>();
  await Promise.all(
    clients.map(async (client, i) => {
      for (let n = 1; n <= REQUESTS; n++) {
        const r = await client.json<Count>(`${cluster.url}/api/count`);
        expect(r.count, `client ${i}, request ${n} (served by ${r.node})`).to.equal(n);
        lastNode.set(client, r.node);
      }
    }),
  );
  return lastNode;
}

async function killNode(cluster: LaunchedCluster, id: string): Promise<void> {
  const res = await fetch(`${cluster.dashboardUrl}nodes/${id}/kill`, { method: 'POST', headers: { 'x-scaleout-admin': '1' } });
  expect(res.status).to.equal(200);
  expect(await res.json()).to.deep.equal({ id, running: false });
}

async function expectAllGone(cluster: LaunchedCluster): Promise<void> {
  const pids = cluster.pids();
  expect(pids.length).to.be.greaterThan(4);
  const code = await cluster.stop('SIGTERM');
  expect(code, cluster.output()).to.equal(0);
  expect(pidAlive(cluster.launcherPid)).to.equal(false);
  const left = pids.filter((p) => groupAlive(p.pid));
  expect(left, `still running after the launcher stopped: ${JSON.stringify(left)}`).to.deep.equal([]);
}

const CASES = [
  { name: 'sticky', args: ['--strategy', 'sticky'], survives: false },
  { name: 'cluster over Redis', args: ['--strategy', 'cluster', '--transport', 'redis'], survives: true },
  { name: 'cluster over Hazelcast', args: ['--strategy', 'cluster', '--transport', 'hazelcast'], survives: true },
  { name: 'store on Redis (Sentinel, one replica)', args: ['--strategy', 'store', '--store', 'redis'], survives: true },
  { name: 'store on Hazelcast', args: ['--strategy', 'store', '--store', 'hazelcast'], survives: true },
];

for (const c of CASES) {
  describe(`sample cluster end to end: ${c.name}`, function () {
    this.timeout(180_000);
    let cluster: LaunchedCluster | undefined;

    before(async () => {
      cluster = await launchSampleCluster(c.args);
    });
    after(async () => {
      await cluster?.[Symbol.asyncDispose]();
    });

    it(`keeps 20 clients' counters exact over 200 requests, then ${c.survives ? 'every counter continues' : "only the dead node's clients start over"} when a node dies, and leaves no process behind`, async () => {
      const cl = cluster!;
      const clients = Array.from({ length: CLIENTS }, () => new CookieClient());
      const lastNode = await drive(cl, clients);
      const onVictim = clients.filter((x) => lastNode.get(x) === 'node-1');
      expect(new Set(lastNode.values()).size, 'requests spread over the three nodes').to.equal(3);
      expect(onVictim.length, 'clients served by node-1').to.be.greaterThan(0);

      await killNode(cl, 'node-1');
      await waitForTargetState(cl, 'node-1', 'down');
      const after = await Promise.all(clients.map((x) => x.json<Count>(`${cl.url}/api/count`)));
      after.forEach((r, i) => {
        const client = clients[i]!;
        expect(r.node, 'no request is served by the dead node').to.not.equal('node-1');
        if (c.survives || lastNode.get(client) !== 'node-1') {
          expect(r.count, `client ${i} (was on ${lastNode.get(client)}, now ${r.node})`).to.equal(REQUESTS + 1);
        } else {
          expect(r.count, `client ${i} of the dead node gets a fresh session`).to.equal(1);
        }
      });
      if (!c.survives) {
        // Clients of other nodes stayed where they were.
        after.forEach((r, i) => {
          if (lastNode.get(clients[i]!) !== 'node-1') expect(r.node).to.equal(lastNode.get(clients[i]!));
        });
      }

      await expectAllGone(cl);
    });
  });
}
