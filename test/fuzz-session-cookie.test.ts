import { request as httpRequest, Agent } from 'node:http';
import { expect } from 'chai';
import fc from 'fast-check';
import { sign } from 'cookie-signature';
import { createStrategy, generateSessionId, parseCookies, signSessionId, unsignSessionId, MAX_COOKIE_HEADER, type Strategy } from '@scaleout/core';
import { buildApp, FRAMEWORKS } from './support/apps.js';
import { startHttp, type RunningServer } from './support/http.js';

// Properties over the session cookie, the one value every client controls. Pure properties run
// FUZZ_RUNS times (1,000 by default); the end-to-end ones drive one in-process server per
// framework with FUZZ_HTTP_RUNS requests (200 by default), since each run is an HTTP round trip.
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const HTTP_RUNS = Number(process.env.FUZZ_HTTP_RUNS ?? 200);

const secretArb = fc.string({ minLength: 1, maxLength: 40 });
const secretsArb = fc.uniqueArray(secretArb, { minLength: 1, maxLength: 4 });
// Real ids (18 random bytes, base64url) and arbitrary strings.
const idArb = fc.oneof(fc.uint8Array({ minLength: 18, maxLength: 18 }).map((b) => Buffer.from(b).toString('base64url')), fc.string({ maxLength: 64 }));

/** One edit of a string: flip, insert, delete or replace a character, or cut it short. */
function mutation(value: string) {
  const at = fc.nat({ max: Math.max(0, value.length - 1) });
  return fc.oneof(
    fc.tuple(at, fc.integer({ min: 1, max: 0xffff })).map(([i, x]) => value.slice(0, i) + String.fromCharCode(value.charCodeAt(i) ^ x) + value.slice(i + 1)),
    fc.tuple(at, fc.string({ minLength: 1, maxLength: 3 })).map(([i, s]) => value.slice(0, i) + s + value.slice(i)),
    at.map((i) => value.slice(0, i) + value.slice(i + 1)),
    at.map((i) => value.slice(0, i)),
    fc.string({ minLength: 1, maxLength: 8 }).map((s) => value + s),
  ).filter((m) => m !== value);
}

describe('fuzz: session cookie', function () {
  describe('unsignSessionId (pure, FUZZ_RUNS runs each)', function () {
    it('never throws and never unsigns an arbitrary string', function () {
      fc.assert(
        fc.property(fc.oneof(fc.string({ maxLength: 600 }), fc.string({ maxLength: 80 }).map((s) => `s:${s}`)), secretsArb, (value, secrets) => {
          const id = unsignSessionId(value, secrets);
          // The only way to unsign is to be the exact signed value of the returned id under a listed secret.
          if (id !== undefined) expect(secrets.some((s) => signSessionId(id, [s]) === value)).to.equal(true);
        }),
        { numRuns: RUNS },
      );
    });

    it('unsigns the exact signed value under any listed secret, and nothing under an unlisted one', function () {
      fc.assert(
        fc.property(idArb, secretsArb, fc.nat(), secretArb, (id, secrets, pick, other) => {
          const signer = secrets[pick % secrets.length]!;
          const cookie = 's:' + sign(id, signer);
          if (cookie.length <= 512) expect(unsignSessionId(cookie, secrets)).to.equal(id);
          fc.pre(!secrets.includes(other));
          expect(unsignSessionId('s:' + sign(id, other), secrets)).to.equal(undefined);
        }),
        { numRuns: RUNS },
      );
    });

    it('refuses every one-edit mutation of a signed value', function () {
      const secrets = ['current-secret', 'retired-secret'];
      const signed = signSessionId(generateSessionId(), secrets);
      fc.assert(
        fc.property(mutation(signed), (forged) => {
          const id = unsignSessionId(forged, secrets);
          if (id !== undefined) expect(secrets.some((s) => signSessionId(id, [s]) === forged), forged).to.equal(true);
        }),
        { numRuns: RUNS },
      );
    });

    it('ignores non-strings and values over 512 characters', function () {
      fc.assert(
        fc.property(fc.anything(), secretsArb, (value, secrets) => {
          fc.pre(typeof value !== 'string');
          expect(unsignSessionId(value as string, secrets)).to.equal(undefined);
        }),
        { numRuns: RUNS },
      );
      const long = signSessionId('x'.repeat(600), ['k']);
      expect(unsignSessionId(long, ['k'])).to.equal(undefined);
    });
  });

  describe('parseCookies (pure, FUZZ_RUNS runs)', function () {
    it('never throws, and gives nothing for a header over MAX_COOKIE_HEADER', function () {
      fc.assert(
        fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ maxLength: 100, unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }), fc.stringMatching(/^([a-z%=;" ]|%[0-9A-F]{2}|%E0%A4%A){0,40}$/)), (header) => {
          const out = parseCookies(header);
          expect(out).to.be.an('object');
        }),
        { numRuns: RUNS },
      );
      expect(parseCookies(`sid=${'a'.repeat(MAX_COOKIE_HEADER)}`)).to.deep.equal({});
    });
  });

  describe('cookie names the config accepts (50 runs per framework, one app each)', function () {
    this.timeout(60_000);
    // A name the config accepts must work: express-session looks cookies up in a plain object, so a
    // name such as "constructor" finds Object.prototype's member instead of "no cookie".
    const TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const nameArb = fc.oneof(
      fc.string({ unit: fc.constantFrom(...TOKEN), minLength: 1, maxLength: 12 }),
      fc.constantFrom(...Object.getOwnPropertyNames(Object.prototype)),
    );
    for (const framework of FRAMEWORKS) {
      it(`${framework}: every accepted session cookie name serves requests with and without cookies`, async function () {
        await fc.assert(
          fc.asyncProperty(nameArb, async (cookieName) => {
            let strategy: Strategy;
            try {
              strategy = await createStrategy({ secret: 'names', strategy: 'store', nodeId: 'names', session: { cookieName } });
            } catch {
              return; // refused by the config: fine
            }
            const server = await startHttp(buildApp(framework, strategy));
            try {
              for (const cookie of [undefined, 'other=1']) {
                const res = await fetch(`${server.url}/count`, { headers: cookie ? { cookie } : {} });
                expect(res.status, `cookie name ${JSON.stringify(cookieName)}, Cookie: ${cookie}`).to.equal(200);
              }
            } finally {
              await server.close();
              await strategy.close();
            }
          }),
          { numRuns: 50, examples: [['constructor'], ['toString'], ['__proto__']] },
        );
      });
    }
  });

  for (const framework of FRAMEWORKS) {
    describe(`${framework} end to end (FUZZ_HTTP_RUNS requests against one server)`, function () {
      this.timeout(120_000);
      let strategy: Strategy;
      let server: RunningServer;
      let agent: Agent;
      let victim: string;

      // A raw http.request, so the fuzzed Cookie header goes out byte for byte.
      const get = (path: string, cookie?: string) =>
        new Promise<{ status: number; body: string; setCookie: string[] }>((resolve, reject) => {
          const req = httpRequest({ host: '127.0.0.1', port: server.port, path, agent, headers: cookie === undefined ? {} : { cookie } }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode!, body, setCookie: res.headers['set-cookie'] ?? [] }));
          });
          req.on('error', reject);
          req.end();
        });

      before(async function () {
        strategy = await createStrategy({ secret: ['fuzz-current', 'fuzz-retired'], nodeId: `fuzz-${framework}`, strategy: 'store' });
        server = await startHttp(buildApp(framework, strategy));
        agent = new Agent({ keepAlive: true, maxSockets: 4 });
        // A victim session with a count of 3: no forged cookie may ever reach it.
        let res = await get('/count');
        victim = res.setCookie[0]!.split(';')[0]!;
        for (let i = 0; i < 2; i++) res = await get('/count', victim);
        expect(JSON.parse(res.body).count).to.equal(3);
      });
      after(async function () {
        agent?.destroy();
        await server?.close();
        await strategy?.close();
      });

      // Header values Node's client accepts: tab, printable ASCII and Latin-1 bytes.
      const headerChar = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(9)).map((c) => String.fromCharCode(c));
      const headerText = (max: number) => fc.string({ unit: headerChar, maxLength: max }).map((s) => s.trim());

      it('answers a random or mutated session cookie with a fresh session, never the victim\'s and never an error', async function () {
        const [name, value] = victim.split('=') as [string, string];
        const victimSigned = decodeURIComponent(value);
        const cookieArb = fc.oneof(
          headerText(200).map((v) => `${name}=${v}`),
          headerText(300),
          mutation(value).filter((m) => /^[\t\x20-\x7e\x80-\xff]*$/.test(m)).map((m) => `${name}=${m}`.trim()),
          mutation(victimSigned).filter((m) => /^[\t\x20-\x7e\x80-\xff]*$/.test(m)).map((m) => `${name}=${m}`.trim()),
          fc.tuple(headerText(40), headerText(40)).map(([a, b]) => `${a}; ${name}=${b}`),
        );
        await fc.assert(
          fc.asyncProperty(cookieArb, async (cookie) => {
            // An edit the cookie grammar undoes (surrounding spaces) leaves the victim's own cookie.
            fc.pre(parseCookies(cookie)[name] !== victimSigned);
            const res = await get('/count', cookie);
            expect(res.status, cookie).to.equal(200);
            const count = JSON.parse(res.body).count;
            // A forged cookie starts a new session (count 1); it never lands in the victim's (count >= 3).
            expect(count, cookie).to.equal(1);
          }),
          { numRuns: HTTP_RUNS },
        );
        const still = await get('/peek', victim);
        expect(JSON.parse(still.body).count).to.equal(3);
      });

      it('sets a cookie whose id has the generateSessionId shape, signed with the newest secret', async function () {
        await fc.assert(
          fc.asyncProperty(headerText(60), async (junk) => {
            const res = await get('/count', junk);
            const pair = res.setCookie.find((c) => c.startsWith(`${strategy.session.cookieName}=`))!.split(';')[0]!;
            const signed = decodeURIComponent(pair.slice(pair.indexOf('=') + 1));
            const id = unsignSessionId(signed, ['fuzz-current']);
            expect(id, signed).to.match(/^[A-Za-z0-9_-]{24}$/);
          }),
          { numRuns: Math.min(HTTP_RUNS, 50) },
        );
      });
    });
  }
});
