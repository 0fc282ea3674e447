import { request } from 'node:http';
import { expect } from 'chai';
import { WebSocket, WebSocketServer } from 'ws';
import { createProxy, type Proxy } from '@scaleout/proxy';
import { countBody, startHttp, type RunningServer } from './support/index.js';
import { startCli, type RunningCli } from '../packages/proxy/test/fixtures/cli.js';
import { startProxyChild, type ProxyChild } from '../packages/proxy/test/fixtures/proxy-child.js';

const MB = 1024 * 1024;

/** Streams `total` bytes as a chunked POST, honouring backpressure; resolves with the answer. */
function upload(port: number, total: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(256 * 1024, 7);
    let sent = 0;
    const write = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

describe('proxy streaming: WebSocket pass-through, a 50 MB upload in bounded memory, graceful stop of the CLI', function () {
  this.timeout(60_000);
  let node: RunningServer;
  let wss: WebSocketServer;

  before(async () => {
    node = await startHttp((req, res) => {
      if (req.url === '/upload') countBody(req, res);
      else if (req.url === '/slow') setTimeout(() => res.end('slow done'), 600);
      else res.end('ok');
    });
    wss = new WebSocketServer({ server: node.server });
    wss.on('connection', (ws, req) => ws.on('message', (data, binary) => ws.send(binary ? data : `echo ${data} via ${req.headers['x-forwarded-for']}`, { binary })));
  });
  after(async () => {
    wss.close();
    await node.close();
  });

  describe('WebSocket', () => {
    let proxy: Proxy;
    before(async () => {
      proxy = createProxy({ listen: 0, targets: [{ id: 'node-1', url: node.url }], healthCheck: { enabled: false } });
      await proxy.listen();
    });
    after(() => proxy.close());

    it('echoes text and a 1 MB binary message through the proxy', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/chat`);
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const next = () => new Promise<{ data: Buffer; binary: boolean }>((resolve) => ws.once('message', (data: Buffer, binary) => resolve({ data, binary })));
      let reply = next();
      ws.send('hello');
      expect((await reply).data.toString()).to.equal('echo hello via 127.0.0.1');
      const big = Buffer.alloc(MB, 3);
      reply = next();
      ws.send(big);
      const got = await reply;
      expect(got.binary).to.equal(true);
      expect(got.data.equals(big)).to.equal(true);
      ws.close();
      await new Promise((resolve) => ws.once('close', resolve));
    });

    it('answers a refused upgrade with 502 when the node is gone', async () => {
      const dead = createProxy({ listen: 0, targets: [{ id: 'gone', url: 'http://127.0.0.1:1' }], healthCheck: { enabled: false }, retries: 0 });
      await dead.listen();
      try {
        const ws = new WebSocket(`ws://127.0.0.1:${dead.port}/chat`);
        const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode!)));
        expect(status).to.equal(502);
      } finally {
        await dead.close();
      }
    });
  });

  describe('a 50 MB upload', () => {
    let child: ProxyChild;
    before(async () => {
      child = await startProxyChild({ listen: 0, targets: [{ id: 'node-1', url: node.url }], healthCheck: { enabled: false } });
    });
    after(() => child.close());

    it('streams through with bounded live memory that does not grow with the size of the body', async () => {
      // warm up: the first requests load code and open the pooled connection
      for (let i = 0; i < 3; i++) expect((await upload(child.port, MB)).status).to.equal(200);
      child.startSampling();
      const res = await upload(child.port, 50 * MB);
      const growth = await child.peakGrowth();
      expect(res.status).to.equal(200);
      expect(JSON.parse(res.body).bytes).to.equal(50 * MB);
      // Live memory (after a forced GC, sampled every 25 ms): what holding the body would grow.
      // RSS is not used: it also counts read buffers V8 frees in batches (up to its 64 MB
      // external-memory trigger), whatever the body size.
      expect(growth, `live memory grew by ${(growth / MB).toFixed(1)} MB`).to.be.below(10 * MB);
      child.startSampling();
      expect(JSON.parse((await upload(child.port, 100 * MB)).body).bytes).to.equal(100 * MB);
      const more = await child.peakGrowth();
      expect(more, `live memory grew by ${(more / MB).toFixed(1)} MB during 100 MB`).to.be.below(10 * MB);
    });
  });

  describe('through the CLI process', () => {
    let cli: RunningCli;
    before(async () => {
      cli = await startCli({ listen: 0, targets: [{ id: 'node-1', url: node.url }], healthCheck: { enabled: false }, timeouts: { shutdown: '5s' } });
    });
    after(async () => {
      await cli.stop('SIGKILL');
    });

    it('on SIGTERM stops accepting, finishes the request in flight, then exits 0', async () => {
      const slow = fetch(`http://127.0.0.1:${cli.port}/slow`).then(async (r) => ({ status: r.status, text: await r.text() }));
      await new Promise((r) => setTimeout(r, 150));
      const exited = cli.stop('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      await expect(fetch(`http://127.0.0.1:${cli.port}/`)).to.be.rejectedWith(/fetch failed/);
      expect(await slow).to.deep.equal({ status: 200, text: 'slow done' });
      expect(await exited).to.equal(0);
    });
  });
});
