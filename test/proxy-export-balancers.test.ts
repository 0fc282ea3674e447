import { expect } from 'chai';
import { exportHaproxy, exportNginx, parseProxyConfig, type ProxyConfig } from '@scaleout/proxy';
import { routeTag } from '@scaleout/core';
import { onFreePort, type RunningBalancer, startHaproxy, startNginx } from '@scaleout/harness';
import { Client, spawnNodes, type NodeProcess } from '../packages/proxy/test/fixtures/nodes.js';

const SECRET = 'export-secret';

const BALANCERS: { name: string; exporter: (c: ProxyConfig) => string; start: (cfg: string, port: number) => Promise<RunningBalancer> }[] = [
  { name: 'HAProxy', exporter: exportHaproxy, start: startHaproxy },
  { name: 'nginx', exporter: exportNginx, start: startNginx },
];

describe('exported HAProxy and nginx configs route by the same route cookie as @scaleout/proxy', function () {
  this.timeout(60_000);
  let nodes: NodeProcess[] = [];

  before(async () => {
    nodes = await spawnNodes(3, SECRET);
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.kill()));
  });

  for (const b of BALANCERS) {
    describe(b.name, () => {
      let balancer: RunningBalancer | undefined;
      let port: number;
      before(async () => {
        // The port is written into the balancer's config: a port taken meanwhile means a new config.
        balancer = await onFreePort((p) => {
          port = p;
          const config = parseProxyConfig({
            listen: p,
            secret: SECRET,
            targets: nodes.map((n) => ({ id: n.id, url: n.url })),
            sticky: { mode: 'learn' },
            healthCheck: { interval: '200ms', timeout: '150ms', rise: 2, fall: 2 },
            timeouts: { connect: '500ms', server: '5s' },
          });
          return b.start(b.exporter(config), p);
        });
      });
      after(async () => {
        await balancer?.close();
      });

      it('keeps a session on one node for 30 requests', async () => {
        const client = new Client(`http://127.0.0.1:${port}`);
        const seen = new Set<string>();
        for (let i = 1; i <= 30; i++) {
          const res = await client.get('/count');
          expect(res.status, balancer!.output()).to.equal(200);
          expect(res.body.count).to.equal(i);
          seen.add(res.body.node);
        }
        expect(seen.size).to.equal(1);
        expect(client.jar.get('route')).to.equal(routeTag([...seen][0]!, SECRET));
      });

      it('honours a route cookie minted for any node (same tags as scaleout-proxy)', async () => {
        for (const n of nodes) {
          const res = await new Client(`http://127.0.0.1:${port}`, { cookie: `route=${routeTag(n.id, SECRET)}` }).get('/whoami');
          expect(res.body.node).to.equal(n.id);
        }
      });

      it('insert mode: the balancer writes the same opaque cookie scaleout-proxy would, and honours it', async () => {
        let insertPort = 0;
        const inserting = await onFreePort((p) => {
          insertPort = p;
          return b.start(b.exporter(parseProxyConfig({ listen: p, secret: SECRET, targets: nodes.map((n) => ({ id: n.id, url: n.url })), sticky: { mode: 'insert', cookieName: 'lb' } })), p);
        });
        try {
          const client = new Client(`http://127.0.0.1:${insertPort}`);
          const first = await client.get('/whoami');
          const line = first.headers.getSetCookie().find((l) => l.startsWith('lb='));
          expect(line, inserting.output()).to.match(new RegExp(`^lb=${routeTag(first.body.node, SECRET)}; `));
          expect(line).to.match(/HttpOnly/i);
          // HAProxy's `nocache` only touches responses it deems cacheable; the nginx export marks every one.
          if (b.name === 'nginx') expect(first.headers.get('cache-control')).to.equal('no-cache="set-cookie"');
          for (let i = 0; i < 5; i++) expect((await client.get('/whoami')).body.node).to.equal(first.body.node);
        } finally {
          await inserting.close();
        }
      });

      it('re-dispatches the client of a SIGKILLed node to a live one, which re-pins it', async () => {
        const client = new Client(`http://127.0.0.1:${port}`);
        for (let i = 1; i <= 3; i++) await client.get('/count');
        const pinned = (await client.get('/count')).body.node as string;
        const victim = nodes.find((n) => n.id === pinned)!;
        await victim.kill('SIGKILL');
        try {
          const answers: { status: number; node: string; count: number }[] = [];
          for (let i = 0; i < 10; i++) {
            const res = await client.get('/count');
            answers.push({ status: res.status, node: res.body.node, count: res.body.count });
          }
          expect(answers.map((a) => a.status)).to.deep.equal(Array(10).fill(200));
          expect(answers.every((a) => a.node !== pinned)).to.equal(true);
          expect(new Set(answers.map((a) => a.node)).size).to.equal(1);
          expect(answers.map((a) => a.count)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        } finally {
          await victim.restart();
        }
      });
    });
  }
});
