import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import request from 'supertest';
import { createStrategy, RouteTable, routeTag, signSessionId, unsignSessionId, type Strategy } from '@scaleout/core';
import { FrameCodec, MessageType } from '@scaleout/cluster';
import { buildApp, FRAMEWORKS } from './support/apps.js';

// Every MAC or token a client can present must be compared in constant time, or its timing leaks
// how many leading bytes were right. Two checks: the source of each comparison (ours and the
// installed libraries that do it for us), and a count of crypto.timingSafeEqual calls while the
// real code paths run.
const require = createRequire(import.meta.url);
const crypto = require('node:crypto') as typeof import('node:crypto');
const read = (rel: string) => readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8');

/** The installed cookie-signature that code in the file `from` (a path or file URL) would load. */
function cookieSignatureOf(from: string | URL): { file: string; version: string; source: string } {
  const req = createRequire(from);
  const file = req.resolve('cookie-signature');
  const pkg = JSON.parse(readFileSync(req.resolve('cookie-signature/package.json'), 'utf8')) as { version: string };
  return { file, version: pkg.version, source: readFileSync(file, 'utf8') };
}

/** Counts crypto.timingSafeEqual calls made by `work` (CommonJS callers and ESM named imports alike). */
async function countTimingSafeEqual(work: () => unknown): Promise<number> {
  const original = crypto.timingSafeEqual;
  let calls = 0;
  crypto.timingSafeEqual = ((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    calls++;
    return original(a, b);
  }) as typeof original;
  syncBuiltinESMExports();
  try {
    await work();
  } finally {
    crypto.timingSafeEqual = original;
    syncBuiltinESMExports();
  }
  return calls;
}

describe('security: constant-time comparisons', function () {
  describe('in the source and the installed libraries', function () {
    it('route tags are compared with crypto.timingSafeEqual, over every candidate with no early exit', function () {
      const src = read('../packages/core/src/route-cookie.ts');
      expect(src).to.match(/import\s*\{[^}]*\btimingSafeEqual\b[^}]*\}\s*from\s*'node:crypto'/);
      const resolve = src.slice(src.indexOf('  resolve(value: unknown)'), src.indexOf('\n  }\n', src.indexOf('  resolve(value: unknown)')));
      expect(resolve).to.include('sameTag(');
      expect(resolve, 'RouteTable.resolve must not leave the loop at the first match').to.not.match(/\bbreak\b|return e\.nodeId|\.find\(|\.some\(/);
      expect(src).to.match(/function sameTag[^}]*timingSafeEqual\(/);
    });

    it('session cookies are unsigned by cookie-signature with crypto.timingSafeEqual (@scaleout/core, Koa)', function () {
      const { source, version } = cookieSignatureOf(new URL('../packages/core/src/http.ts', import.meta.url));
      expect(source, `cookie-signature ${version}`).to.match(/crypto\s*\.timingSafeEqual\(/);
      expect(read('../packages/core/src/http.ts')).to.match(/import \{[^}]*\bunsign\b[^}]*\} from 'cookie-signature'/);
    });

    it('session cookies are checked in constant time on the Express path too: express-session\'s own compare never sees a forged value', async function () {
      // express-session unsigns with its own pinned cookie-signature. Either that copy compares in
      // constant time, or the Express layer verifies the cookie with unsignSessionId first, so that
      // the library's compare only ever runs on values that already verified.
      const fromExpress = require.resolve('express-session', { paths: [fileURLToPath(new URL('../packages/express/src/', import.meta.url))] });
      const { source, version, file } = cookieSignatureOf(fromExpress);
      if (/crypto\s*\.timingSafeEqual\(/.test(source)) return;
      const lib = createRequire(fromExpress)('cookie-signature') as { unsign: (v: string, s: string) => string | false };
      const original = lib.unsign;
      let reached = 0;
      lib.unsign = (v, k) => {
        reached++;
        return original(v, k);
      };
      const strategy: Strategy = await createStrategy({ secret: ['ct-secret'], nodeId: 'ct-express-lib', strategy: 'store' });
      // A server that takes larger heads than Node's default, as an operator may configure it.
      const server = createServer({ maxHeaderSize: 64 * 1024 }, buildApp('express', strategy));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const forged = encodeURIComponent(signSessionId('abcdefghijklmnopqrstuvwx', ['not-the-secret']));
      const name = strategy.session.cookieName;
      const headers = {
        'a forged cookie': `${name}=${forged}`,
        'a forged cookie in quotes': `${name}="${forged}"`,
        'a forged cookie after 20 KB of other cookies': `${'pad=' + 'x'.repeat(20 * 1024)}; ${name}=${forged}`,
      };
      const reachedBy: string[] = [];
      try {
        for (const [what, cookie] of Object.entries(headers)) {
          const before = reached;
          await request(server).get('/peek').set('Cookie', cookie).expect(200);
          if (reached > before) reachedBy.push(what);
        }
      } finally {
        lib.unsign = original;
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
        await strategy.close();
      }
      expect(reachedBy, `reached cookie-signature ${version} (${file}), which compares sha1(mac) == sha1(value), not in constant time`).to.deep.equal([]);
    });

    it('replication frame MACs and the proxy status token are compared with crypto.timingSafeEqual', function () {
      expect(read('../packages/cluster/src/frame.ts')).to.match(/verify\([^)]*\)[^]*?timingSafeEqual\(expected, /);
      const status = read('../packages/proxy/src/status-page.ts');
      // Both sides hashed to a fixed length first, so the length of the token leaks nothing either.
      expect(status).to.match(/timingSafeEqual\(digest\(given\), this\.#token\)/);
    });
  });

  describe('at run time (calls to crypto.timingSafeEqual)', function () {
    const secrets = ['ct-new', 'ct-old'];

    it('unsignSessionId compares once per secret tried, for good and forged values alike', async function () {
      const good = signSessionId('abcdefghijklmnopqrstuvwx', secrets);
      const forged = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A');
      expect(await countTimingSafeEqual(() => expect(unsignSessionId(good, secrets)).to.equal('abcdefghijklmnopqrstuvwx'))).to.equal(1);
      expect(await countTimingSafeEqual(() => expect(unsignSessionId(forged, secrets)).to.equal(undefined))).to.equal(secrets.length);
    });

    it('RouteTable.resolve makes the same number of comparisons whether the tag is first, last or unknown', async function () {
      const nodes = ['n1', 'n2', 'n3', 'n4'];
      const table = new RouteTable(nodes, secrets);
      const first = await countTimingSafeEqual(() => table.resolve(routeTag('n1', secrets[0]!)));
      const last = await countTimingSafeEqual(() => table.resolve(routeTag('n4', secrets[1]!)));
      const unknown = await countTimingSafeEqual(() => table.resolve('A'.repeat(22)));
      expect(first).to.equal(nodes.length * secrets.length);
      expect(last).to.equal(first);
      expect(unknown).to.equal(first);
    });

    it('FrameCodec.verify compares the MAC with timingSafeEqual', async function () {
      const codec = new FrameCodec(secrets);
      const frame = codec.parse(codec.encode({ type: MessageType.DIGEST, origin: 'a', incarnation: 1, seq: 1, prev: 0, to: '', ts: Date.now() }, Buffer.alloc(8)));
      expect(await countTimingSafeEqual(() => expect(codec.verify(frame)).to.equal(true))).to.equal(1);
    });

    for (const framework of FRAMEWORKS) {
      it(`a forged session cookie sent to the ${framework} layer is checked with timingSafeEqual`, async function () {
        const strategy: Strategy = await createStrategy({ secret: secrets, nodeId: `ct-${framework}`, strategy: 'store' });
        try {
          const app = buildApp(framework, strategy);
          const forged = encodeURIComponent(signSessionId('abcdefghijklmnopqrstuvwx', ['not-the-secret']));
          const calls = await countTimingSafeEqual(() => request(app).get('/peek').set('Cookie', `${strategy.session.cookieName}=${forged}`).expect(200));
          expect(calls, 'timingSafeEqual calls while the cookie was checked').to.be.at.least(1);
        } finally {
          await strategy.close();
        }
      });
    }
  });
});
