import { once } from 'node:events';
import { expect } from 'chai';
import { createProxy, type Proxy } from '@scaleout/proxy';
import { Client, spawnNodes, type NodeProcess } from '../packages/proxy/test/fixtures/nodes.js';

const SECRET = 'failover-secret';
const INTERVAL = 200;
const FALL = 2;
const RISE = 2;

describe('proxy failover: SIGKILL of the pinned node re-dispatches its client', function () {
  this.timeout(60_000);
  let nodes: NodeProcess[] = [];
  let proxy: Proxy;
  const events: string[] = [];

  before(async () => {
    nodes = await spawnNodes(3, SECRET);
    proxy = createProxy({
      listen: 0,
      secret: SECRET,
      targets: nodes.map((n) => ({ id: n.id, url: n.url })),
      sticky: { mode: 'learn' },
      healthCheck: { interval: INTERVAL, timeout: 150, fall: FALL, rise: RISE },
      timeouts: { connect: '500ms', server: '3s' },
    });
    proxy.on('down', (id: string) => events.push(`down ${id}`));
    proxy.on('up', (id: string) => events.push(`up ${id}`));
    await proxy.listen();
  });
  after(async () => {
    await proxy?.close();
    await Promise.all(nodes.map((n) => n.kill()));
  });

  it('moves the client to a live node with a fresh session, never answers 5xx, and takes the node back after rise', async () => {
    const client = new Client(`http://127.0.0.1:${proxy.port}`);
    for (let i = 1; i <= 5; i++) expect((await client.get('/count')).body.count).to.equal(i);
    const pinned = (await client.get('/count')).body.node as string;
    const victim = nodes.find((n) => n.id === pinned)!;

    const down = once(proxy, 'down');
    const killedAt = Date.now();
    await victim.kill('SIGKILL');

    // Keep the client busy while the checks notice: every answer is a 200, none hangs.
    const answers: { status: number; node: string; count: number; ms: number }[] = [];
    let markedDown = false;
    void down.then(() => (markedDown = true));
    while (!markedDown || answers.length < 20) {
      const t = Date.now();
      const res = await client.get('/count');
      answers.push({ status: res.status, node: res.body.node, count: res.body.count, ms: Date.now() - t });
      if (Date.now() - killedAt > 10_000) break;
    }
    const [downId] = (await down) as [string];
    expect(downId).to.equal(pinned);
    expect(Date.now() - killedAt).to.be.below(10_000);
    expect(answers.every((a) => a.status === 200), JSON.stringify(answers.filter((a) => a.status !== 200))).to.equal(true);
    expect(Math.max(...answers.map((a) => a.ms))).to.be.below(3000);
    // The first answer after the kill already came from another node, as a fresh session...
    expect(answers[0]!.node).not.to.equal(pinned);
    expect(answers[0]!.count).to.equal(1);
    // ...which the client stays on: one new session, counted on.
    const fresh = answers.filter((a) => a.count === 1);
    expect(fresh).to.have.length(1);
    expect(new Set(answers.map((a) => a.node)).size).to.equal(1);
    expect(answers.map((a) => a.count)).to.deep.equal(answers.map((_, i) => i + 1));
    const stats = proxy.stats().targets.find((t) => t.id === pinned)!;
    expect(stats.state).to.equal('down');

    // Back again: up after `rise` passing checks, and new clients reach it.
    const up = once(proxy, 'up');
    await victim.restart();
    const [upId] = (await up) as [string];
    expect(upId).to.equal(pinned);
    expect(events).to.include(`down ${pinned}`).and.to.include(`up ${pinned}`);
    const reached = new Set<string>();
    for (let i = 0; i < 9; i++) reached.add((await new Client(`http://127.0.0.1:${proxy.port}`).get('/whoami')).body.node);
    expect(reached).to.include(pinned);
  });

  it('answers 503 at once when every node is down', async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    await new Promise((r) => setTimeout(r, INTERVAL * (FALL + 2) + 300));
    expect(proxy.stats().targets.every((t) => t.state === 'down')).to.equal(true);
    const t = Date.now();
    const res = await new Client(`http://127.0.0.1:${proxy.port}`).get('/count');
    expect(res.status).to.equal(503);
    expect(res.body).to.match(/^503 Service Unavailable/);
    expect(Date.now() - t).to.be.below(500);
    expect(proxy.stats().errors[503]).to.be.greaterThan(0);
  });
});
