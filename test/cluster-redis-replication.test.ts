import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { startClusterNode, type ClusterNodeProcess } from './support/cluster-node.js';
import { eventually, type RedisServer, startRedis } from '@scaleout/harness';

type Content = { digest: string; content: string; size: number };

async function converged(nodes: readonly ClusterNodeProcess[]): Promise<Content[]> {
  const all = await Promise.all(nodes.map((n) => n.admin<Content>('content')));
  return new Set(all.map((c) => c.content)).size === 1 && new Set(all.map((c) => c.digest)).size === 1 ? all : [];
}

describe('cluster strategy: three node processes over Redis pub/sub', function () {
  this.timeout(90_000);
  let redis: RedisServer;
  const nodes: ClusterNodeProcess[] = [];
  const channel = `repl-${randomUUID()}`;

  before(async function () {
    redis = await startRedis();
    // Staggered, so that each joins the ones before it rather than all taking themselves for the first.
    for (const nodeId of ['node-a', 'node-b', 'node-c']) nodes.push(await startClusterNode({ nodeId, redisUrl: redis.url, channel }));
  });
  after(async function () {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
  });

  it('makes a write on A readable on B and C', async function () {
    const [a, b, c] = nodes as [ClusterNodeProcess, ClusterNodeProcess, ClusterNodeProcess];
    await a.admin('write?prefix=first-&count=1', 'POST');
    for (const n of [b, c]) {
      const got = await eventually(async () => (await n.admin<{ value: { writer?: string } | null }>('get?id=first-0')).value, 5000, `first-0 on ${n.nodeId}`);
      expect(got?.writer).to.equal('node-a');
    }
  });

  it('ends 1,000 concurrent conflicting writes from all nodes to 50 sessions with identical contents everywhere', async function () {
    await Promise.all(nodes.map((n) => n.admin('conflict?sessions=50&count=334', 'POST')));
    const all = await eventually(() => converged(nodes).then((r) => (r.length ? r : undefined)), 10_000, 'identical contents');
    expect(all?.[0]?.size).to.be.at.least(50);
    for (let i = 0; i < 50; i++) {
      const values = await Promise.all(nodes.map((n) => n.admin<{ value: unknown }>(`get?id=c${i}`)));
      expect(values[1], `c${i} on B`).to.deep.equal(values[0]);
      expect(values[2], `c${i} on C`).to.deep.equal(values[0]);
    }
  });

  it('never brings back a session destroyed on one node while another keeps writing it', async function () {
    const [a, b] = nodes as [ClusterNodeProcess, ClusterNodeProcess];
    await a.admin('write?prefix=doomed-&count=1', 'POST');
    await eventually(async () => (await b.admin<{ value: unknown }>('get?id=doomed-0')).value, 5000, 'doomed-0 on B');
    // B's writes race the destroy; some are stamped after it, and all of them must lose.
    const racing = Promise.all(Array.from({ length: 20 }, (_, i) => b.admin(`write?prefix=doomed-&count=1&bytes=${i}`, 'POST')));
    await a.admin('destroy?id=doomed-0', 'POST');
    await racing;
    await b.admin('write?prefix=doomed-&count=1', 'POST');
    await eventually(() => converged(nodes).then((r) => r.length > 0), 10_000, 'converged');
    for (const n of nodes) expect((await n.admin<{ value: unknown }>('get?id=doomed-0')).value, n.nodeId).to.equal(null);
  });

  it('lets a fourth node join while 10,000 sessions exist and writes go on; once ready its digest equals the others', async function () {
    const [a, b, c] = nodes as [ClusterNodeProcess, ClusterNodeProcess, ClusterNodeProcess];
    await a.admin('write?prefix=bulk-&count=10000&bytes=200', 'POST');
    await eventually(async () => (await c.state()).size >= 10_000, 10_000, '10,000 sessions on C');
    let writing = true;
    const load = (async () => {
      let i = 0;
      while (writing) {
        await Promise.all([b.admin(`write?prefix=live-b-&from=${i}&count=20`, 'POST'), c.admin(`write?prefix=live-c-&from=${i}&count=20`, 'POST')]);
        i += 20;
      }
      return i;
    })();
    const d = await startClusterNode({ nodeId: 'node-d', redisUrl: redis.url, channel, env: { NODE_DEBUG: process.env.CLUSTER_TEST_DEBUG ?? 'scaleout:snapshot' } });
    nodes.push(d);
    const ready = await d.state();
    writing = false;
    const written = await load;
    expect(written).to.be.above(0);
    expect(ready.stats.snapshotsReceived, d.log()).to.equal(1);
    expect(ready.size).to.be.at.least(10_000);
    await eventually(() => converged(nodes).then((r) => r.length === 4), 10_000, 'the joined node converged');
  });
});
