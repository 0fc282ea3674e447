import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import request from 'supertest';
import { createStrategy, generateSessionId, SESSION_ID_BYTES, unsignSessionId, type Strategy } from '@scaleout/core';
import { buildApp, FRAMEWORKS } from './support/apps.js';
import { cookieOf } from './support/session-behaviour.js';

// A session id is the bearer credential of a session: it must be unguessable (OWASP: at least
// 128 bits from a CSPRNG), and the Express and Koa layers must use the generator that gives it.
const ID_SHAPE = /^[A-Za-z0-9_-]{24}$/;
const SAMPLE = 10_000;
const SECRET = ['id-test-secret'];

describe('security: session ids', function () {
  it('generateSessionId draws at least 128 bits from crypto.randomBytes, never Math.random', function () {
    expect(SESSION_ID_BYTES * 8).to.be.at.least(128);
    const source = readFileSync(fileURLToPath(new URL('../packages/core/src/session-id.ts', import.meta.url)), 'utf8');
    expect(source).to.match(/import\s*\{[^}]*\brandomBytes\b[^}]*\}\s*from\s*'node:crypto'/);
    expect(source).to.match(/randomBytes\(SESSION_ID_BYTES\)/);
    expect(source).to.not.match(/Math\.random|randomInt|Date\.now/);
  });

  describe(`over ${SAMPLE} ids`, function () {
    const ids = Array.from({ length: SAMPLE }, () => generateSessionId());

    it('has the shape of 18 bytes in base64url: 24 characters of [A-Za-z0-9_-]', function () {
      for (const id of ids) expect(id).to.match(ID_SHAPE);
      for (const id of ids.slice(0, 100)) expect(Buffer.from(id, 'base64url')).to.have.length(SESSION_ID_BYTES);
    });

    it('has no duplicates', function () {
      expect(new Set(ids).size).to.equal(SAMPLE);
    });

    it('varies at every position and uses the whole alphabet at each', function () {
      for (let pos = 0; pos < 24; pos++) {
        const seen = new Set(ids.map((id) => id[pos]));
        // 10,000 draws from 64 equally likely characters miss one with probability ~ 64 * e^-156.
        expect(seen.size, `position ${pos}`).to.equal(64);
      }
    });

    it('has the entropy of uniform random bits: each bit set about half the time, ~8 bits per byte', function () {
      const bytes = Buffer.concat(ids.map((id) => Buffer.from(id, 'base64url')));
      const bitCounts = new Array<number>(SESSION_ID_BYTES * 8).fill(0);
      ids.forEach((id) => {
        const b = Buffer.from(id, 'base64url');
        for (let i = 0; i < b.length * 8; i++) if (b[i >> 3]! & (0x80 >> (i & 7))) bitCounts[i]!++;
      });
      // Binomial(10,000, 0.5) has a standard deviation of 50: 6 sigma is 300.
      for (const [i, c] of bitCounts.entries()) expect(Math.abs(c - SAMPLE / 2), `bit ${i}`).to.be.below(300);
      const freq = new Array<number>(256).fill(0);
      for (const b of bytes) freq[b]!++;
      const entropy = -freq.reduce((h, f) => (f ? h + (f / bytes.length) * Math.log2(f / bytes.length) : h), 0);
      expect(entropy, 'Shannon entropy per byte').to.be.above(7.99);
    });
  });

  for (const framework of FRAMEWORKS) {
    describe(`the ${framework} layer`, function () {
      let strategy: Strategy;
      before(async function () {
        strategy = await createStrategy({ secret: SECRET, nodeId: `ids-${framework}`, strategy: 'store' });
      });
      after(() => strategy?.close());

      it('puts ids of generateSessionId\'s shape in its cookie, fresh for every new session and on login', async function () {
        const app = buildApp(framework, strategy);
        const seen = new Set<string>();
        for (let i = 0; i < 20; i++) {
          const agent = request.agent(app);
          for (const res of [await agent.get('/count').expect(200), await agent.post('/login').expect(200)]) {
            const pair = cookieOf(res, strategy.session.cookieName)!;
            const id = unsignSessionId(decodeURIComponent(pair.slice(pair.indexOf('=') + 1)), SECRET);
            expect(id).to.match(ID_SHAPE);
            expect(seen.has(id!), 'a repeated id').to.equal(false);
            seen.add(id!);
          }
        }
        // And the store holds exactly those ids: the cookie's id is the storage key.
        for await (const id of strategy.store.ids()) expect(id).to.match(ID_SHAPE);
      });

      it('never adopts an id the client chose (session fixation): an unknown signed id gets a new one', async function () {
        const app = buildApp(framework, strategy);
        const chosen = 'attacker-chosen-id-00000';
        const cookie = `${strategy.session.cookieName}=${encodeURIComponent('s:' + (await import('cookie-signature')).sign(chosen, SECRET[0]!))}`;
        const res = await request(app).get('/count').set('Cookie', cookie).expect(200);
        expect(res.body.count).to.equal(1);
        const pair = cookieOf(res, strategy.session.cookieName)!;
        const id = unsignSessionId(decodeURIComponent(pair.slice(pair.indexOf('=') + 1)), SECRET);
        expect(id).to.not.equal(chosen);
        expect(id).to.match(ID_SHAPE);
        expect(await strategy.store.get(chosen)).to.equal(undefined);
      });
    });
  }
});
