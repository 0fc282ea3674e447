import { expect } from 'chai';
import { createProxy, type Proxy } from '@scaleout/proxy';
import { routeTag } from '@scaleout/core';
import { Client, spawnNodes, type NodeProcess } from '../packages/proxy/test/fixtures/nodes.js';

const SECRET = 'sticky-test-secret';

describe('proxy stickiness: a session lives on one node behind @scaleout/proxy', function () {
  this.timeout(60_000);
  let nodes: NodeProcess[] = [];

  before(async () => {
    // Two Express nodes and one Koa node, each with the sticky strategy's route cookie.
    nodes = await spawnNodes(3, SECRET, (i) => (i === 2 ? 'koa' : 'express'));
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.kill()));
  });

  const targets = () => nodes.map((n) => ({ id: n.id, url: n.url }));

  for (const mode of ['learn', 'insert'] as const) {
    describe(`${mode} mode`, () => {
      let proxy: Proxy;
      before(async () => {
        proxy = createProxy({
          listen: 0,
          secret: SECRET,
          targets: targets(),
          algorithm: 'round-robin',
          // insert: the proxy's own cookie, apart from the app's `route` cookie
          sticky: mode === 'insert' ? { mode, cookieName: 'lb' } : { mode },
          healthCheck: { interval: '200ms', timeout: '150ms' },
        });
        await proxy.listen();
      });
      after(() => proxy.close());

      it('counts 100 requests of one client on one node', async () => {
        const client = new Client(`http://127.0.0.1:${proxy.port}`);
        const seen = new Set<string>();
        for (let i = 1; i <= 100; i++) {
          const res = await client.get('/count');
          expect(res.status).to.equal(200);
          expect(res.body.count, `request ${i}`).to.equal(i);
          seen.add(res.body.node);
        }
        expect(seen.size).to.equal(1);
        const cookie = client.jar.get(mode === 'insert' ? 'lb' : 'route');
        expect(cookie).to.equal(routeTag([...seen][0]!, SECRET));
      });

      it('spreads new clients over every node, each pinned to its own', async () => {
        const nodesSeen = new Set<string>();
        for (let c = 0; c < 6; c++) {
          const client = new Client(`http://127.0.0.1:${proxy.port}`);
          const first = await client.get('/count');
          for (let i = 2; i <= 5; i++) {
            const res = await client.get('/count');
            expect(res.body).to.deep.equal({ node: first.body.node, count: i });
          }
          nodesSeen.add(first.body.node);
        }
        expect([...nodesSeen].sort()).to.deep.equal(['node-1', 'node-2', 'node-3']);
      });

      if (mode === 'insert') {
        it('inserts an opaque HttpOnly cookie, hides it from the node and marks the answer uncacheable', async () => {
          const client = new Client(`http://127.0.0.1:${proxy.port}`);
          const first = await fetch(`http://127.0.0.1:${proxy.port}/headers`);
          const line = first.headers.getSetCookie().find((l) => l.startsWith('lb='))!;
          expect(line).to.match(/^lb=[A-Za-z0-9_-]{22}; Path=\/; HttpOnly; SameSite=Lax$/);
          expect(line).not.to.match(/node|127\.0\.0\.1/);
          expect(first.headers.get('cache-control')).to.equal('no-cache="set-cookie"');
          client.jar.set('lb', line.slice(3, 25));
          client.jar.set('other', 'kept');
          const again = await client.get('/headers');
          expect(again.body.headers.cookie).to.equal('other=kept');
          expect(again.headers.getSetCookie().some((l) => l.startsWith('lb='))).to.equal(false);
        });
      }
    });
  }
});
