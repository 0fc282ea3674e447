import { connect } from 'node:net';
import { expect } from 'chai';
import { createProxy, type Proxy } from '@scaleout/proxy';
import { routeTag } from '@scaleout/core';
import { eventually } from '@scaleout/harness';
import { startHttp, type RunningServer } from './support/index.js';
import { createNodeApp } from '../packages/proxy/test/fixtures/node-app.js';
import { Client } from '../packages/proxy/test/fixtures/nodes.js';

const SECRET = 'bad-input-secret';

/** Sends raw bytes, returns everything the proxy answered until it closed (or `waitMs` passed). */
function raw(port: number, chunks: (string | Buffer)[], waitMs = 3000): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const s = connect({ port, host: '127.0.0.1' });
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closedAfterMs: Infinity });
    }, waitMs);
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - started });
    });
    s.on('connect', () => {
      for (const c of chunks) s.write(c);
    });
  });
}

describe('proxy bad input: garbage from clients or nodes is answered, never a crash', function () {
  this.timeout(30_000);
  let node: RunningServer;
  let app: { close(): Promise<void> };
  let proxy: Proxy;
  let url: string;

  before(async () => {
    const a = await createNodeApp({ nodeId: 'node-1', secret: SECRET });
    app = a;
    node = await startHttp(a.handler);
    proxy = createProxy({
      listen: 0,
      secret: SECRET,
      targets: [{ id: 'node-1', url: node.url }],
      sticky: { mode: 'learn' },
      healthCheck: { enabled: false },
      passive: { consecutiveErrors: 1000 },
      timeouts: { headers: '1s', server: '800ms' },
    });
    await proxy.listen();
    url = `http://127.0.0.1:${proxy.port}`;
  });
  after(async () => {
    await proxy.close();
    await node.close();
    await app.close();
  });
  afterEach(async () => {
    // whatever the test did, the proxy still serves
    expect((await new Client(url).get('/whoami')).body).to.deep.equal({ node: 'node-1' });
  });

  const COOKIES: [string, string][] = [
    ['garbled', 'route=%%%not-a-tag%%%'],
    ['right shape, forged MAC', `route=${'A'.repeat(22)}`],
    ['a tag under another secret', `route=${routeTag('node-1', 'some-other-secret')}`],
    ['a tag for an unknown node', `route=${routeTag('node-99', SECRET)}`],
    ['4 KB long', `route=${'x'.repeat(4096)}`],
    ['empty and duplicated', 'route=; route==; =route'],
    ['control characters', 'route=\u0001\u0002'],
  ];
  for (const [what, cookie] of COOKIES) {
    it(`treats a route cookie that is ${what} as unpinned`, async () => {
      const res = await fetch(`${url}/count`, { headers: { cookie } }).catch((e) => e as Error);
      if (res instanceof Error) return expect(what).to.equal('control characters'); // fetch itself refuses to send them
      expect(res.status).to.equal(200);
      expect(((await res.json()) as { count: number }).count).to.equal(1);
      expect(res.headers.getSetCookie().some((l) => l.startsWith(`route=${routeTag('node-1', SECRET)}`))).to.equal(true);
    });
  }

  it('answers a 64 KB request line with 431/414/400 and closes', async () => {
    const { text } = await raw(proxy.port!, [`GET /${'a'.repeat(64 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`]);
    expect(text).to.match(/^HTTP\/1\.1 (431|414|400) /);
  });

  it('answers malformed headers with 400', async () => {
    for (const bad of ['GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n', 'GET / HTTP/1.1\r\nHo st: x\r\n\r\n', 'NOT HTTP AT ALL\r\n\r\n', 'GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello']) {
      const { text } = await raw(proxy.port!, [bad]);
      expect(text, JSON.stringify(bad)).to.match(/^HTTP\/1\.1 400 /);
    }
  });

  it('sends an absolute-form request target on in origin-form, and refuses asterisk-form with 400', async () => {
    const abs = await raw(proxy.port!, ['GET http://app.example/headers?x=1 HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n']);
    expect(abs.text).to.match(/^HTTP\/1\.1 200 /);
    expect(abs.text).to.include('"node":"node-1"');
    const star = await raw(proxy.port!, ['OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    expect(star.text).to.match(/^HTTP\/1\.1 400 /);
    expect(proxy.stats().targets[0]!.failures).to.equal(0);
  });

  it('survives a client that disconnects mid-body, and frees the node slot', async () => {
    await raw(proxy.port!, [`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${1024 * 1024}\r\n\r\n`, Buffer.alloc(100 * 1024)], 200);
    await eventually(() => proxy.stats().targets[0]!.inFlight === 0, 5000, 'in-flight back to 0');
  });

  it('answers 502 when the node closes the socket without an answer', async () => {
    const before = proxy.stats().errors[502];
    const res = await fetch(`${url}/close`);
    expect(res.status).to.equal(502);
    expect(await res.text()).to.match(/^502 Bad Gateway/);
    expect(proxy.stats().errors[502]).to.equal(before + 1);
  });

  it('cuts the client connection when the node closes mid-response (no fake success)', async () => {
    const { text, closedAfterMs } = await raw(proxy.port!, ['GET /half HTTP/1.1\r\nHost: x\r\n\r\n']);
    expect(text).to.match(/^HTTP\/1\.1 200 /);
    expect(text).to.include('partial');
    expect(closedAfterMs).to.be.below(3000);
  });

  it('answers 504 when the node does not answer within timeouts.server', async () => {
    const t = Date.now();
    const res = await fetch(`${url}/hang`);
    expect(res.status).to.equal(504);
    expect(Date.now() - t, "ms").to.be.within(700, 3000);
  });

  it('bounds a slowloris client by timeouts.headers', async () => {
    const drip = Array.from({ length: 40 }, () => 'X');
    const started = Date.now();
    const result = await new Promise<{ text: string; ms: number }>((resolve) => {
      const s = connect({ port: proxy.port!, host: '127.0.0.1' });
      let text = '';
      s.on('data', (d) => (text += d));
      s.on('error', () => {});
      s.on('close', () => resolve({ text, ms: Date.now() - started }));
      s.on('connect', () => {
        s.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
        const timer = setInterval(() => (drip.length && !s.destroyed ? s.write(drip.pop()!) : clearInterval(timer)), 150);
      });
    });
    expect(result.ms).to.be.below(4000);
    expect(result.text === '' || /^HTTP\/1\.1 408 /.test(result.text)).to.equal(true);
  });
});

describe('proxy retries: a connect failure goes to another node before any body byte is sent', function () {
  let node: RunningServer;
  let proxy: Proxy;
  before(async () => {
    node = await startHttp((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(`got ${n}`));
    });
    proxy = createProxy({ listen: 0, algorithm: 'round-robin', targets: [{ id: 'dead', url: 'http://127.0.0.1:1' }, { id: 'live', url: node.url }], healthCheck: { enabled: false }, retries: 1 });
    await proxy.listen();
  });
  after(async () => {
    await proxy.close();
    await node.close();
  });

  it('every POST with a body arrives whole, though one node refuses connections', async () => {
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`http://127.0.0.1:${proxy.port}/`, { method: 'POST', body: 'x'.repeat(1000 + i) });
      expect(res.status).to.equal(200);
      expect(await res.text()).to.equal(`got ${1000 + i}`);
    }
    expect(proxy.stats().targets.find((t) => t.id === 'dead')!.failures).to.be.greaterThan(0);
  });
});
