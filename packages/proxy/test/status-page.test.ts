import { expect } from 'chai';
import { ConfigError } from '@scaleout/core';
import { createProxy, type Proxy } from '@scaleout/proxy';
import { startHttp, type RunningServer } from '../../../test/support/index.js';

const TOKEN = 'a-status-token-of-some-length';

describe('status page and admin endpoints', () => {
  let nodes: RunningServer[] = [];
  let proxy: Proxy;
  let base: string;
  const killed: string[] = [];

  before(async () => {
    nodes = await Promise.all([1, 2].map((i) => startHttp((_req, res) => res.end(`node-${i}`))));
    proxy = createProxy(
      {
        listen: 0,
        secret: 'status-secret',
        targets: [
          { id: 'node-1', url: nodes[0]!.url },
          { id: 'node-2', url: nodes[1]!.url },
        ],
        healthCheck: { enabled: false },
        status: { token: TOKEN },
      },
      { status: { title: 'demo <cluster>', actions: { kill: { label: 'Kill', run: (id) => (killed.push(id), { killed: id }) } } } },
    );
    await proxy.listen();
    base = `http://127.0.0.1:${proxy.port}/__scaleout/status`;
  });
  after(async () => {
    await proxy.close();
    await Promise.all(nodes.map((n) => n.close()));
  });

  const auth = { authorization: `Bearer ${TOKEN}` };
  const admin = { ...auth, 'x-scaleout-admin': '1' };

  it('refuses every route without the token, or with a wrong one', async () => {
    for (const [path, init] of [
      ['', {}],
      ['.json', {}],
      ['.json?token=wrong', {}],
      ['.json', { headers: { authorization: 'Bearer wrong' } }],
      ['/targets/node-1/drain', { method: 'POST', headers: { 'x-scaleout-admin': '1' } }],
    ] as const) {
      const res = await fetch(base + path, init);
      expect(res.status, path).to.equal(401);
    }
  });

  it('serves JSON with every target, its state, counters and the algorithm (Bearer or ?token=)', async () => {
    for (let i = 0; i < 4; i++) await fetch(`http://127.0.0.1:${proxy.port}/`);
    const a: any = await (await fetch(`${base}.json`, { headers: auth })).json();
    const b: any = await (await fetch(`${base}.json?token=${TOKEN}`)).json();
    for (const s of [a, b]) {
      expect(s).to.include({ mode: 'http', algorithm: 'round-robin', sticky: 'learn' });
      expect(s.targets).to.have.length(2);
      expect(s.targets[0]).to.include.keys('id', 'state', 'inFlight', 'requests', 'failures', 'latencyEwmaMs', 'pins');
      expect(s.targets.map((t: { requests: number }) => t.requests).reduce((x: number, y: number) => x + y)).to.be.at.least(4);
    }
  });

  it('serves an HTML page with escaped text, a nonce CSP and the injected controls', async () => {
    const res = await fetch(`${base}?token=${TOKEN}`);
    expect(res.headers.get('content-type')).to.match(/text\/html/);
    expect(res.headers.get('content-security-policy')).to.match(/script-src 'nonce-/);
    const html = await res.text();
    expect(html).to.include('demo &#60;cluster&#62;').and.not.to.include('<cluster>');
    expect(html).to.include('<td>node-2</td>');
    expect(html).to.include('data-action="kill"').and.to.include('>Kill<').and.to.include('data-action="drain"');
  });

  it('drains a target (pinned clients only) and enables it again', async () => {
    let res = await fetch(`${base}/targets/node-1/drain`, { method: 'POST', headers: admin });
    expect(await res.json()).to.deep.equal({ id: 'node-1', draining: true });
    for (let i = 0; i < 4; i++) expect(await (await fetch(`http://127.0.0.1:${proxy.port}/`)).text()).to.equal('node-2');
    expect(proxy.stats().targets[0]!.state).to.equal('drain');
    // a client pinned to the drained node still reaches it
    const pinned = await fetch(`http://127.0.0.1:${proxy.port}/`, { headers: { cookie: `route=${proxy.routeTag('node-1')}` } });
    expect(await pinned.text()).to.equal('node-1');
    res = await fetch(`${base}/targets/node-1/enable`, { method: 'POST', headers: admin });
    expect(await res.json()).to.deep.equal({ id: 'node-1', draining: false });
    expect(proxy.stats().targets[0]!.state).to.equal('up');
  });

  it('switches the algorithm at run time, and refuses unknown ones', async () => {
    let res = await fetch(`${base}/algorithm?name=least-connections`, { method: 'POST', headers: admin });
    expect(await res.json()).to.deep.equal({ algorithm: 'least-connections' });
    expect(proxy.stats().algorithm).to.equal('least-connections');
    res = await fetch(`${base}/algorithm`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ algorithm: 'round-robin' }) });
    expect(res.status).to.equal(200);
    expect(proxy.stats().algorithm).to.equal('round-robin');
    res = await fetch(`${base}/algorithm?name=random`, { method: 'POST', headers: admin });
    expect(res.status).to.equal(400);
    res = await fetch(`${base}/algorithm`, { method: 'POST', headers: admin, body: '{not json' });
    expect(res.status).to.equal(400);
  });

  it('runs an injected action', async () => {
    const res = await fetch(`${base}/targets/node-2/kill`, { method: 'POST', headers: admin });
    expect(await res.json()).to.deep.equal({ id: 'node-2', action: 'kill', result: { killed: 'node-2' } });
    expect(killed).to.deep.equal(['node-2']);
  });

  it('refuses admin POSTs without the X-Scaleout-Admin header, unknown targets, actions and methods', async () => {
    expect((await fetch(`${base}/targets/node-1/drain`, { method: 'POST', headers: auth })).status).to.equal(403);
    expect((await fetch(`${base}/targets/nope/drain`, { method: 'POST', headers: admin })).status).to.equal(404);
    expect((await fetch(`${base}/targets/node-1/explode`, { method: 'POST', headers: admin })).status).to.equal(404);
    expect((await fetch(`${base}/targets/%E0%A4%A/drain`, { method: 'POST', headers: admin })).status).to.equal(400);
    expect((await fetch(`${base}.json`, { method: 'DELETE', headers: admin })).status).to.equal(405);
    expect((await fetch(`${base}/whatever`, { headers: auth })).status).to.equal(404);
  });

  it('refuses custom actions without a token at start-up, naming status.token', async () => {
    const config = { listen: 0, targets: [{ id: 'node-1', url: nodes[0]!.url }], healthCheck: { enabled: false } };
    const actions = { kill: { label: 'Kill', run: () => null } };
    expect(() => createProxy(config, { status: { actions } }))
      .to.throw(ConfigError, /status actions kill require one/)
      .with.property('field', 'status.token');
    // without actions, or with the status page off, a token-less proxy is fine
    await createProxy(config, { status: { actions: {} } }).close();
    await createProxy({ ...config, status: { enabled: false } }, { status: { actions } }).close();
  });

  it('passes paths that only start like the prefix to the nodes', async () => {
    const res = await fetch(`http://127.0.0.1:${proxy.port}/__scaleout/statusx`);
    expect(res.status).to.equal(200);
    expect(await res.text()).to.match(/^node-/);
  });
});
