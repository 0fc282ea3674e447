import { connect } from 'node:net';
import { expect } from 'chai';
import { createStrategy, MAX_COOKIE_HEADER, type Strategy } from '@scaleout/core';
import { buildApp, FRAMEWORKS } from './support/apps.js';
import { startHttp, type RunningServer } from './support/http.js';

// Whatever a client sends, the session layer's cost stays bounded: cookie headers past the
// limit are ignored (or refused by Node with 431), and sessions created by a flood of new clients
// never grow the memory store past maxSessions. (The proxy's own limits, 431 on a huge request
// head and 408 for slowloris, are tested in proxy-bad-input.test.ts; oversized replication
// frames in cluster-bad-input.test.ts.)

/** Sends one raw request and resolves with the status line (or '' when the server closed silently). */
function rawStatus(port: number, head: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', () => resolve(text.split('\r\n')[0] ?? ''));
    socket.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
    socket.write(head);
  });
}

describe('security: oversized input to the session layer', function () {
  this.timeout(60_000);

  for (const framework of FRAMEWORKS) {
    describe(framework, function () {
      let strategy: Strategy;
      let server: RunningServer;
      before(async function () {
        strategy = await createStrategy({ secret: 'dos-secret', strategy: 'store', nodeId: `dos-${framework}`, store: { type: 'memory', maxSessions: 50 } });
        server = await startHttp(buildApp(framework, strategy));
      });
      after(async function () {
        await server?.close();
        await strategy?.close();
      });

      it('keeps at most maxSessions sessions however many new clients arrive', async function () {
        for (let i = 0; i < 150; i++) {
          const res = await fetch(`${server.url}/count`);
          expect(res.status).to.equal(200);
          await res.arrayBuffer();
        }
        expect(await strategy.store.size()).to.be.at.most(50);
      });

      it('serves a fresh session for a Cookie header of 1,500 cookies, and for a 9 KB session cookie', async function () {
        const many = Array.from({ length: 1500 }, (_, i) => `c${i}=v`).join('; ');
        expect(many.length).to.be.below(MAX_COOKIE_HEADER);
        for (const cookie of [many, `sid=s%3A${'A'.repeat(9000)}`, `${'x'.repeat(12_000)}; sid=1`]) {
          const res = await fetch(`${server.url}/count`, { headers: { cookie } });
          expect(res.status).to.equal(200);
          expect(((await res.json()) as { count: number }).count).to.equal(1);
        }
      });

      it('refuses a request head past Node\'s limit with 431 (or a close) and keeps serving', async function () {
        const status = await rawStatus(server.port, `GET /count HTTP/1.1\r\nHost: x\r\nCookie: sid=${'A'.repeat(64 * 1024)}\r\n\r\n`);
        expect(status === '' || /^HTTP\/1\.1 (431|400) /.test(status), status).to.equal(true);
        const res = await fetch(`${server.url}/count`);
        expect(res.status).to.equal(200);
      });
    });
  }
});
