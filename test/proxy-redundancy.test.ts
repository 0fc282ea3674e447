import { expect } from 'chai';
import { createProxy, type Proxy, type ProxyConfigInput } from '@scaleout/proxy';
import { startHttp, type RunningServer } from './support/index.js';
import { createNodeApp } from '../packages/proxy/test/fixtures/node-app.js';
import { Client } from '../packages/proxy/test/fixtures/nodes.js';

const SECRET = 'shared-by-both-proxies';

describe('proxy redundancy: two instances with one secret agree without shared state', function () {
  this.timeout(30_000);
  const servers: RunningServer[] = [];
  const apps: { close(): Promise<void> }[] = [];
  const proxies: Proxy[] = [];

  before(async () => {
    for (let i = 1; i <= 3; i++) {
      const app = await createNodeApp({ nodeId: `node-${i}`, secret: SECRET });
      apps.push(app);
      servers.push(await startHttp(app.handler));
    }
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(apps.map((a) => a.close()));
  });

  async function pair(extra: Partial<ProxyConfigInput>): Promise<[Proxy, Proxy]> {
    const make = async () => {
      // Different target order in each instance: agreement must not depend on it.
      const targets = servers.map((s, i) => ({ id: `node-${i + 1}`, url: s.url }));
      const p = createProxy({ listen: 0, secret: SECRET, targets: proxies.length % 2 ? targets.reverse() : targets, healthCheck: { enabled: false }, ...extra });
      proxies.push(p);
      await p.listen();
      return p;
    };
    return [await make(), await make()];
  }

  for (const mode of ['learn', 'insert'] as const) {
    it(`${mode}: a client alternating between the two proxies keeps one node and one session`, async () => {
      const [a, b] = await pair({ sticky: mode === 'insert' ? { mode, cookieName: 'lb' } : { mode } });
      const viaA = new Client(`http://127.0.0.1:${a.port}`);
      const first = await viaA.get('/count');
      const viaB = new Client(`http://127.0.0.1:${b.port}`);
      for (const [k, v] of viaA.jar) viaB.jar.set(k, v);
      for (let i = 2; i <= 20; i++) {
        const via = i % 2 ? viaA : viaB;
        const res = await via.get('/count');
        expect(res.body).to.deep.equal({ node: first.body.node, count: i });
        for (const [k, v] of via.jar) (via === viaA ? viaB : viaA).jar.set(k, v);
      }
      expect(a.routeTag(first.body.node)).to.equal(b.routeTag(first.body.node));
    });
  }

  it('ip-hash: both proxies send each client address to the same node', async () => {
    const [a, b] = await pair({ algorithm: 'ip-hash', trustProxy: true, sticky: { mode: 'none' } });
    const spread = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const headers = { 'x-forwarded-for': `192.0.2.${i}` };
      const [ra, rb] = await Promise.all([new Client(`http://127.0.0.1:${a.port}`, headers).get('/whoami'), new Client(`http://127.0.0.1:${b.port}`, headers).get('/whoami')]);
      expect(ra.body.node, headers['x-forwarded-for']).to.equal(rb.body.node);
      spread.add(ra.body.node);
    }
    expect(spread.size).to.equal(3);
  });
});
