import { EventEmitter, once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import { expect } from 'chai';
import { WebSocketServer } from 'ws';
import { createProxy, type Proxy } from '@scaleout/proxy';
import { eventually } from '@scaleout/harness';
import { startHttp, type RunningServer } from './support/index.js';

// A malformed request is the client's fault: the proxy answers it itself and never charges it
// to the node it was pinned to. Before this rule, five requests with two Host lines and a route
// cookie for node-2 got node-2 ejected, and every client pinned to it lost its node.

const SECRET = 'client-faults-secret';

/** Sends one raw request and resolves with the status line's code (0 when none came back). */
function rawStatus(port: number, head: string): Promise<number> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    let text = '';
    const timer = setTimeout(() => s.destroy(), 3000);
    s.on('data', (d) => {
      text += d.toString('latin1');
      if (text.includes('\r\n')) s.destroy();
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0));
    });
    s.on('connect', () => s.write(head));
  });
}

/** Sends a raw request head (and what follows), waits for `arrived`, then drops the connection. */
async function sendAndLeave(port: number, head: string, arrived: Promise<unknown>): Promise<void> {
  const s = connect({ port, host: '127.0.0.1' });
  s.on('error', () => {});
  await once(s, 'connect');
  s.write(head);
  await arrived;
  const closed = once(s, 'close');
  s.destroy();
  await closed;
}

describe('proxy client faults: a malformed request is a 400 from the proxy, and a client that leaves is never a failure of the node', function () {
  this.timeout(30_000);
  const nodes: RunningServer[] = [];
  /** For each upgrade that reached a node: how many Host lines it carried. */
  const upgradesSeen: number[] = [];
  /** Emits `body` when a node starts reading an upload, `handshake` when a slow upgrade reached it. */
  const reached = new EventEmitter();

  before(async () => {
    for (let i = 1; i <= 3; i++) {
      const id = `node-${i}`;
      const node = await startHttp((req, res) => {
        if (req.url === '/upload') {
          reached.emit('body');
          req.resume();
          return void req.on('end', () => res.end('stored'));
        }
        const body = req.url === '/host' ? { node: id, host: req.headers.host, forwardedHost: req.headers['x-forwarded-host'] } : { node: id };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
      // A handshake on /slow is held at the node (never answered) until its client leaves.
      const wss = new WebSocketServer({
        server: node.server,
        verifyClient: (info, done) => {
          if (info.req.url !== '/slow') return done(true);
          reached.emit('handshake');
          info.req.socket.once('end', () => done(false)); // the proxy gave up on it: refusing closes it
        },
      });
      wss.on('connection', (ws, req) => {
        upgradesSeen.push(req.rawHeaders.filter((name, j) => j % 2 === 0 && name.toLowerCase() === 'host').length);
        ws.close();
      });
      nodes.push(node);
    }
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
  });

  for (const mode of ['learn', 'insert'] as const) {
    describe(`${mode} mode`, () => {
      let proxy: Proxy;
      let cookie: string;
      before(async () => {
        proxy = createProxy({
          listen: 0,
          secret: SECRET,
          targets: nodes.map((n, i) => ({ id: `node-${i + 1}`, url: n.url })),
          algorithm: 'round-robin',
          sticky: mode === 'insert' ? { mode, cookieName: 'lb' } : { mode },
          healthCheck: { enabled: false },
          passive: { consecutiveErrors: 5 },
        });
        await proxy.listen();
        cookie = `${mode === 'insert' ? 'lb' : 'route'}=${proxy.routeTag('node-2')}`;
      });
      after(() => proxy.close());

      const node2 = () => proxy.stats().targets.find((t) => t.id === 'node-2')!;
      const expectUntouched = () => {
        const t = node2();
        expect({ state: t.state, failures: t.failures, consecutiveFailures: t.consecutiveFailures, ejections: t.ejections }).to.deep.equal({ state: 'up', failures: 0, consecutiveFailures: 0, ejections: 0 });
      };

      it('answers 20 duplicate-Host requests pinned to node-2 with 400, and node-2 stays up with 0 failures', async () => {
        const variants = [
          `GET /whoami HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nCookie: ${cookie}\r\n\r\n`,
          `GET /whoami HTTP/1.1\r\nHost: same.example\r\nHost: same.example\r\nCookie: ${cookie}\r\n\r\n`,
          `GET /whoami HTTP/1.0\r\nHost: a.example\r\nhost: b.example\r\nCookie: ${cookie}\r\n\r\n`,
          `GET /whoami HTTP/1.1\r\nCookie: ${cookie}\r\n\r\n`,
        ];
        const statuses: number[] = [];
        for (let i = 0; i < 20; i++) statuses.push(await rawStatus(proxy.port!, variants[i % variants.length]!));
        expect(statuses).to.deep.equal(Array(20).fill(400));
        expectUntouched();
        expect(proxy.stats().errors).to.deep.equal({ 502: 0, 503: 0, 504: 0 });
      });

      it('still serves a well-formed client pinned to node-2 from node-2', async () => {
        const res = await fetch(`http://127.0.0.1:${proxy.port}/whoami`, { headers: { cookie } });
        expect(res.status).to.equal(200);
        expect(await res.json()).to.deep.equal({ node: 'node-2' });
      });

      it('answers an empty Host and a Host that conflicts with an absolute-form target with 400, on HTTP and upgrade, and node-2 stays up', async () => {
        const upgrade = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
        const seenBefore = upgradesSeen.length;
        const variants = [
          `GET /whoami HTTP/1.1\r\nHost:\r\nCookie: ${cookie}\r\n\r\n`,
          `GET /whoami HTTP/1.1\r\nHost:   \r\nCookie: ${cookie}\r\n\r\n`,
          `GET http://a.example/whoami HTTP/1.1\r\nHost: b.example\r\nCookie: ${cookie}\r\n\r\n`,
          `GET http://a.example:8080/whoami HTTP/1.1\r\nHost: a.example\r\nCookie: ${cookie}\r\n\r\n`,
          `GET /chat HTTP/1.1\r\nHost:\r\nCookie: ${cookie}\r\n${upgrade}\r\n`,
          `GET http://a.example/chat HTTP/1.1\r\nHost: b.example\r\nCookie: ${cookie}\r\n${upgrade}\r\n`,
        ];
        const statuses: number[] = [];
        for (let i = 0; i < 12; i++) statuses.push(await rawStatus(proxy.port!, variants[i % variants.length]!));
        expect(statuses).to.deep.equal(Array(12).fill(400));
        expect(upgradesSeen.length).to.equal(seenBefore);
        expectUntouched();
        expect(proxy.stats().errors).to.deep.equal({ 502: 0, 503: 0, 504: 0 });
      });

      it("forwards an absolute-form request with the URI's authority as Host", async () => {
        const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          // absolute-form, as a client talking to a forward proxy sends it
          const r = request({ host: '127.0.0.1', port: proxy.port!, path: 'http://app.example/host', headers: { host: 'App.Example:80', cookie } }, (m) => {
            let body = '';
            m.on('data', (d: Buffer) => (body += d));
            m.on('end', () => resolve({ status: m.statusCode!, body }));
          });
          r.on('error', reject);
          r.end();
        });
        expect(res.status).to.equal(200);
        expect(JSON.parse(res.body)).to.deep.equal({ node: 'node-2', host: 'app.example', forwardedHost: 'app.example' });
      });

      it('never charges node-2 for 10 clients that leave mid-upload or mid-handshake', async () => {
        for (let i = 0; i < 5; i++) {
          await sendAndLeave(proxy.port!, `POST /upload HTTP/1.1\r\nHost: a.example\r\nCookie: ${cookie}\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(2000)}`, once(reached, 'body'));
          await sendAndLeave(
            proxy.port!,
            `GET /slow HTTP/1.1\r\nHost: a.example\r\nCookie: ${cookie}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
            once(reached, 'handshake'),
          );
        }
        await eventually(() => node2().inFlight === 0, 5000, 'node-2 released every request');
        expectUntouched();
        expect(proxy.stats().errors).to.deep.equal({ 502: 0, 503: 0, 504: 0 });
      });

      it('answers 20 duplicate-Host WebSocket upgrades with 400 without reaching a node', async () => {
        const seenBefore = upgradesSeen.length;
        const statuses: number[] = [];
        for (let i = 0; i < 20; i++) {
          statuses.push(
            await rawStatus(
              proxy.port!,
              `GET /chat HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nCookie: ${cookie}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
            ),
          );
        }
        expect(statuses).to.deep.equal(Array(20).fill(400));
        expect(upgradesSeen.length).to.equal(seenBefore);
        expectUntouched();
        // a well-formed upgrade still goes through, to node-2, with one Host
        const ok = await rawStatus(
          proxy.port!,
          `GET /chat HTTP/1.1\r\nHost: a.example\r\nCookie: ${cookie}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
        );
        expect(ok).to.equal(101);
        expect(upgradesSeen.slice(seenBefore)).to.deep.equal([1]);
      });
    });
  }
});
