import { request } from 'node:http';
import { connect } from 'node:net';
import { expect } from 'chai';
import { createProxy, type Proxy } from '@scaleout/proxy';
import { startHttp, type RunningServer } from '../../../test/support/index.js';

/** A request with exact raw headers (fetch would drop or rewrite some). */
function send(port: number, headers: Record<string, string>, path = '/'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP forwarding: headers the node and the client see', () => {
  let node: RunningServer;
  let proxy: Proxy;
  let trusting: Proxy;

  before(async () => {
    node = await startHttp((req, res) => {
      res.setHeader('x-node-keep', 'yes');
      res.setHeader('connection', 'keep-alive, x-node-private');
      res.setHeader('x-node-private', 'hop');
      res.setHeader('keep-alive', 'timeout=5');
      res.end(JSON.stringify({ headers: req.headers, url: req.url, method: req.method }));
    });
    const targets = [{ id: 'n', url: node.url }];
    proxy = createProxy({ listen: 0, targets, healthCheck: { enabled: false } });
    trusting = createProxy({ listen: 0, targets, healthCheck: { enabled: false }, trustProxy: ['127.0.0.1'] });
    await proxy.listen();
    await trusting.listen();
  });
  after(async () => {
    await proxy.close();
    await trusting.close();
    await node.close();
  });

  it('removes hop-by-hop request headers (RFC 7230 §6.1), including those named in Connection', async () => {
    const res = await send(proxy.port!, { connection: 'keep-alive, x-client-private', 'x-client-private': 'hop', 'proxy-authorization': 'Basic x', te: 'trailers', 'x-end-to-end': 'kept', host: 'app.example' });
    const seen = JSON.parse(res.body).headers;
    expect(seen).to.not.have.any.keys('x-client-private', 'proxy-authorization', 'te');
    expect(seen['x-end-to-end']).to.equal('kept');
    expect(seen.host).to.equal('app.example');
  });

  it('removes hop-by-hop response headers, keeps end-to-end ones', async () => {
    const res = await send(proxy.port!, {});
    expect(res.headers['x-node-keep']).to.equal('yes');
    expect(res.headers).to.not.have.any.keys('x-node-private');
    expect(res.headers['keep-alive']).to.not.equal('timeout=5');
  });

  it('appends the peer to X-Forwarded-For and sets -Proto and -Host, ignoring an untrusted peer\'s claims', async () => {
    const res = await send(proxy.port!, { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', host: 'app.example' });
    const seen = JSON.parse(res.body).headers;
    expect(seen['x-forwarded-for']).to.equal('203.0.113.9, 127.0.0.1');
    expect(seen['x-forwarded-proto']).to.equal('http');
    expect(seen['x-forwarded-host']).to.equal('app.example');
  });

  it('keeps X-Forwarded-Proto and -Host from a trusted peer', async () => {
    const res = await send(trusting.port!, { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'www.example', host: 'internal' });
    const seen = JSON.parse(res.body).headers;
    expect(seen).to.include({ 'x-forwarded-for': '203.0.113.9, 127.0.0.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'www.example' });
  });

  it('answers Expect: 100-continue itself and streams the body on', async () => {
    const result = await new Promise<{ continued: boolean; body: string }>((resolve, reject) => {
      let continued = false;
      const req = request({ host: '127.0.0.1', port: proxy.port!, method: 'PUT', path: '/put', headers: { expect: '100-continue', 'content-length': '5' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ continued, body }));
      });
      req.on('continue', () => {
        continued = true;
        req.end('hello');
      });
      req.on('error', reject);
    });
    expect(result.continued).to.equal(true);
    const seen = JSON.parse(result.body);
    expect(seen.method).to.equal('PUT');
    expect(seen.headers).to.not.have.property('expect');
    expect(seen.headers['content-length']).to.equal('5');
  });

  it('passes method, path and query unchanged', async () => {
    const res = await fetch(`http://127.0.0.1:${proxy.port}/a/b?c=1&d=%20`, { method: 'DELETE' });
    expect(await res.json()).to.include({ url: '/a/b?c=1&d=%20', method: 'DELETE' });
  });

  it('closes an idle keep-alive connection after timeouts.idle, and a request whose body outlasts timeouts.request', async () => {
    const strict = createProxy({ listen: 0, targets: [{ id: 'n', url: node.url }], healthCheck: { enabled: false }, timeouts: { idle: '300ms', request: '1s', headers: '500ms' } });
    await strict.listen();
    try {
      const idle = await new Promise<{ text: string; ms: number }>((resolve) => {
        const s = connect({ port: strict.port!, host: '127.0.0.1' });
        let text = '';
        let answeredAt = 0;
        s.on('data', (d) => {
          text += d;
          answeredAt ||= Date.now();
        });
        s.on('close', () => resolve({ text, ms: Date.now() - answeredAt }));
        s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      });
      expect(idle.text).to.match(/^HTTP\/1\.1 200 /);
      expect(idle.ms).to.be.within(200, 3000);
      const slowBody = await new Promise<{ text: string; ms: number }>((resolve) => {
        const started = Date.now();
        const s = connect({ port: strict.port!, host: '127.0.0.1' });
        let text = '';
        s.on('data', (d) => (text += d));
        s.on('error', () => {});
        s.on('close', () => resolve({ text, ms: Date.now() - started }));
        s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
        const drip = setInterval(() => (s.destroyed ? clearInterval(drip) : s.write('x')), 100);
      });
      expect(slowBody.ms).to.be.within(900, 5000);
      expect(slowBody.text === '' || /HTTP\/1\.1 (408|502|504) /.test(slowBody.text), slowBody.text).to.equal(true);
    } finally {
      await strict.close();
    }
  });
});

