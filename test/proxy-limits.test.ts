import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { expect } from 'chai';
import { WebSocket, WebSocketServer } from 'ws';
import { createProxy, type Proxy } from '@scaleout/proxy';
import { eventually } from '@scaleout/harness';
import { startHttp, type RunningServer } from './support/index.js';

// Limits as HAProxy sets them: `maxconn` on the frontend and per server, `tune.http.maxhdr`.

/** A kept-alive raw connection that sends one request at a time and reads each response's status. */
class RawConnection {
  readonly socket: Socket;
  #text = '';
  #waiting: ((status: number) => void) | undefined;
  readonly closed: Promise<unknown>;

  constructor(port: number) {
    this.socket = connect({ port, host: '127.0.0.1' });
    this.socket.on('error', () => {});
    this.closed = once(this.socket, 'close');
    this.socket.on('data', (d: Buffer) => {
      this.#text += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n/.exec(this.#text);
      const length = m ? Number(/content-length: (\d+)/i.exec(m[0])?.[1] ?? 0) : 0;
      if (m && this.#text.length >= m[0].length + length) {
        this.#text = this.#text.slice(m[0].length + length);
        this.#waiting?.(Number(m[1]));
      }
    });
  }

  /** Sends `head` and resolves with the status of the answer (0 if the connection closes first). */
  send(head: string): Promise<number> {
    return new Promise((resolve) => {
      this.#waiting = resolve;
      void this.closed.then(() => resolve(0));
      this.socket.write(head);
    });
  }
}

const GET = 'GET / HTTP/1.1\r\nHost: a.example\r\n\r\n';

describe('proxy limits: connections, connections per node, header fields', function () {
  this.timeout(30_000);
  const nodes: RunningServer[] = [];
  let requestsSeen = 0;
  /** Connections each node has open now, and the most it had at once. */
  const conns = [0, 0];
  const peak = [0, 0];

  before(async () => {
    for (let i = 0; i < 2; i++) {
      const node = await startHttp((req, res) => {
        requestsSeen++;
        if (req.url === '/slow') return void setTimeout(() => res.end('slow'), 100);
        res.writeHead(200, { 'content-length': 2 }).end('ok');
      });
      node.server.on('connection', (s: Socket) => {
        peak[i] = Math.max(peak[i]!, ++conns[i]!);
        s.once('close', () => conns[i]!--);
      });
      new WebSocketServer({ server: node.server }).on('connection', () => {});
      nodes.push(node);
    }
  });
  after(() => Promise.all(nodes.map((n) => n.close())));

  describe('maxConnections', () => {
    let proxy: Proxy;
    before(async () => {
      proxy = createProxy({ listen: 0, targets: [{ id: 'node-1', url: nodes[0]!.url }], healthCheck: { enabled: false }, maxConnections: 3 });
      await proxy.listen();
    });
    after(() => proxy.close());

    it('answers a connection past the limit with 503 and closes it, while the open ones keep working', async () => {
      const open = [0, 1, 2].map(() => new RawConnection(proxy.port!));
      expect(await Promise.all(open.map((c) => c.send(GET)))).to.deep.equal([200, 200, 200]);
      const extra = new RawConnection(proxy.port!);
      expect(await extra.send(GET)).to.equal(503);
      await extra.closed;
      expect(await Promise.all(open.map((c) => c.send(GET)))).to.deep.equal([200, 200, 200]);
      // once one leaves, a new connection is served
      open[0]!.socket.destroy();
      await eventually(() => proxy.stats().connections === 2, 5000, 'the proxy saw the connection close');
      const next = new RawConnection(proxy.port!);
      expect(await next.send(GET)).to.equal(200);
      for (const c of [...open, next]) c.socket.destroy();
    });
  });

  describe('targets[].maxConnections', () => {
    let proxy: Proxy;
    before(async () => {
      proxy = createProxy({ listen: 0, targets: nodes.map((n, i) => ({ id: `node-${i + 1}`, url: n.url, maxConnections: 1 })), healthCheck: { enabled: false } });
      await proxy.listen();
    });
    after(() => proxy.close());

    it('holds at most that many connections to a node: concurrent requests queue for it', async () => {
      peak.fill(0);
      const statuses = await Promise.all(Array.from({ length: 8 }, () => fetch(`http://127.0.0.1:${proxy.port}/slow`).then((r) => r.status)));
      expect(statuses).to.deep.equal(Array(8).fill(200));
      expect(peak).to.deep.equal([1, 1]);
    });

    it('sends a WebSocket past the cap of one node to the other, and answers 503 when both are full', async () => {
      const open = async () => {
        const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/chat`);
        const outcome = await Promise.race([once(ws, 'open').then(() => 101), once(ws, 'unexpected-response').then(([, res]) => (res as { statusCode: number }).statusCode)]);
        return { ws, outcome };
      };
      const a = await open();
      const b = await open();
      const c = await open();
      expect([a.outcome, b.outcome, c.outcome]).to.deep.equal([101, 101, 503]);
      expect(proxy.stats().targets.map((t) => t.inFlight)).to.deep.equal([1, 1]);
      a.ws.close();
      await once(a.ws, 'close');
      b.ws.terminate();
      c.ws.terminate();
    });
  });

  describe('maxHeadersCount', () => {
    let proxy: Proxy;
    before(async () => {
      proxy = createProxy({ listen: 0, targets: [{ id: 'node-1', url: nodes[0]!.url }], healthCheck: { enabled: false }, maxHeaderSize: 65_536 });
      await proxy.listen();
    });
    after(() => proxy.close());

    const head = (n: number, extra = '') => `POST / HTTP/1.1\r\nHost: a.example\r\n${Array.from({ length: n - 1 }, (_, i) => `x-h${i}: v\r\n`).join('')}${extra}\r\n`;

    it('answers 431 past 100 header fields (and past 2000, where Node would cut them silently) without reaching a node', async () => {
      const before = requestsSeen;
      for (const [n, extra] of [
        [101, ''],
        [2500, 'Content-Length: 5\r\n'],
        [2001, 'Transfer-Encoding: chunked\r\n'],
      ] as const) {
        const c = new RawConnection(proxy.port!);
        expect(await c.send(head(n, extra) + (extra.startsWith('Content') ? 'hello' : extra ? '5\r\nhello\r\n0\r\n\r\n' : '')), `${n} fields`).to.equal(431);
        await c.closed;
      }
      expect(requestsSeen).to.equal(before);
      const ok = new RawConnection(proxy.port!);
      expect(await ok.send(head(100).replace('POST', 'GET'))).to.equal(200);
      ok.socket.destroy();
    });
  });
});
