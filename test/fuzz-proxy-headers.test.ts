import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, isIP, type AddressInfo } from 'node:net';
import { expect } from 'chai';
import fc from 'fast-check';
import { parseCookies, routeTag } from '@scaleout/core';
import { createProxy, parseProxyConfig, readCookie, Stickiness, type Proxy } from '@scaleout/proxy';
import { clientAddress, requestHeaders, responseHeaders } from '../packages/proxy/src/headers.js';
import { dropCookie } from '../packages/proxy/src/sticky.js';

// The proxy reads every header a client sends. Whatever arrives: hop-by-hop fields never cross
// it, a client cannot choose the address or scheme the node is told unless it is a trusted
// proxy, and a route cookie pins a client only when it is a genuine tag. Pure properties run
// FUZZ_RUNS times; the end-to-end one sends FUZZ_HTTP_RUNS requests through one real proxy.
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const HTTP_RUNS = Number(process.env.FUZZ_HTTP_RUNS ?? 200);
const SECRET = ['proxy-fuzz-secret', 'proxy-fuzz-retired'];
const STATUS_TOKEN = 'status-token-7Hq2Lx9Vw4Rm';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 12 });
const randomCase = (s: string) => fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }).map((up) => [...s].map((ch, i) => (up[i] ? ch.toUpperCase() : ch)).join(''));
const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 }).map((s) => s.trim());
const ipArb = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant('::ffff:10.0.0.1'));

const headerName = fc.oneof(
  fc.constantFrom(...HOP_BY_HOP, 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'host', 'cookie', 'accept', 'x-secret-hop').chain(randomCase),
  token,
);
/** A Connection header naming random fields (some of them present in the message). */
const connectionValue = fc.array(fc.oneof(token, fc.constantFrom('close', 'keep-alive', 'upgrade', 'x-secret-hop', 'accept', 'X-Secret-Hop')), { maxLength: 4 }).map((t) => t.join(', '));
const xffValue = fc.array(fc.oneof(ipArb, headerValue), { maxLength: 4 }).map((h) => h.join(', '));
const rawHeadersArb = fc.array(
  fc.oneof(
    fc.tuple(headerName, headerValue),
    fc.tuple(fc.constant('Connection').chain(randomCase), connectionValue),
    fc.tuple(fc.constant('X-Forwarded-For').chain(randomCase), xffValue),
  ),
  { maxLength: 12 },
);

/** A request as the proxy sees it: raw header pairs, Node's lower-cased view of them, a peer address. */
function fakeRequest(pairs: Array<[string, string]>, remoteAddress: string): IncomingMessage {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of pairs) {
    const k = name.toLowerCase();
    if (k === 'set-cookie') headers[k] = [...((headers[k] as string[]) ?? []), value];
    else if (headers[k] === undefined) headers[k] = value;
    else headers[k] = k === 'cookie' ? `${headers[k]}; ${value}` : `${headers[k]}, ${value}`;
  }
  return { rawHeaders: pairs.flat(), headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

/** Names a Connection header nominates as hop-by-hop (RFC 7230 §6.1). */
function nominated(pairs: Array<[string, string]>): Set<string> {
  const out = new Set<string>();
  for (const [n, v] of pairs) if (n.toLowerCase() === 'connection') for (const t of v.split(',')) out.add(t.trim().toLowerCase());
  for (const keep of ['close', 'keep-alive', 'upgrade', '']) out.delete(keep);
  return out;
}

/**
 * One request written byte for byte on its own connection (Node's client refuses some of the
 * fields fuzzed here, such as Trailer), and the response's status and lower-cased headers.
 */
function rawExchange(port: number, headers: Array<[string, string]>, path = '/', method = 'GET'): Promise<{ statusCode: number; headers: Record<string, string | string[]> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', reject);
    socket.on('end', () => {
      const [head = ''] = text.split('\r\n\r\n');
      const [status = '', ...lines] = head.split('\r\n');
      const out: Record<string, string | string[]> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        const k = line.slice(0, i).toLowerCase();
        const v = line.slice(i + 1).trim();
        if (k === 'set-cookie') out[k] = [...((out[k] as string[]) ?? []), v];
        else out[k] = v;
      }
      resolve({ statusCode: Number(status.split(' ')[1]), headers: out });
    });
    // write, not end: the proxy takes a half-closed client for one that left.
    socket.write(`${method} ${path} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`, 'latin1');
  });
}

/** One edit of a string: change, insert or delete a character, or cut it short. */
function mutationOf(value: string) {
  const at = fc.nat({ max: value.length - 1 });
  return fc
    .oneof(
      fc.tuple(at, fc.constantFrom(...TOKEN_CHARS)).map(([i, c]) => value.slice(0, i) + c + value.slice(i + 1)),
      fc.tuple(at, fc.constantFrom(...TOKEN_CHARS)).map(([i, c]) => value.slice(0, i) + c + value.slice(i)),
      at.map((i) => value.slice(0, i) + value.slice(i + 1)),
      at.map((i) => value.slice(0, i)),
    )
    .filter((m) => m !== value);
}

function namesOf(flat: string[]): string[] {
  return flat.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
}

describe('fuzz: proxy header handling', function () {
  this.timeout(60_000);

  describe('pure functions (FUZZ_RUNS runs each)', function () {
    it('requestHeaders drops hop-by-hop and Connection-nominated fields and tells the node the truth about an untrusted peer', function () {
      fc.assert(
        fc.property(rawHeadersArb, ipArb, fc.constantFrom<false | true | string[]>(false, true, ['127.0.0.1']), fc.boolean(), (pairs, peer, trust, upgrade) => {
          const req = fakeRequest(pairs, peer);
          const out = requestHeaders(req, { trust, upgrade });
          const names = namesOf(out);
          const bare = peer.startsWith('::ffff:') ? peer.slice(7) : peer;
          const wantsUpgrade = upgrade && Boolean(req.headers.upgrade);
          if (wantsUpgrade) {
            // A WebSocket handshake keeps exactly one Connection: Upgrade and the client's Upgrade value.
            expect(names.filter((n) => n === 'connection')).to.have.length(1);
            expect(out[names.indexOf('connection') * 2 + 1]).to.equal('Upgrade');
            expect(names.filter((n) => n === 'upgrade')).to.have.length(1);
            expect(out[names.indexOf('upgrade') * 2 + 1]).to.equal(req.headers.upgrade);
          }
          for (const n of names) {
            if (n === 'transfer-encoding') continue; // re-added as "chunked" only, checked below
            if (wantsUpgrade && (n === 'connection' || n === 'upgrade')) continue;
            expect(HOP_BY_HOP, `hop-by-hop ${n} forwarded`).to.not.include(n);
            expect(nominated(pairs).has(n), `${n} named by Connection was forwarded`).to.equal(false);
          }
          for (let i = 0; i < out.length; i += 2) if (out[i]!.toLowerCase() === 'transfer-encoding') expect(out[i + 1]).to.equal('chunked');
          expect(names.filter((n) => n === 'x-forwarded-for')).to.have.length(1);
          expect(names.filter((n) => n === 'x-forwarded-proto')).to.have.length(1);
          const xff = out[out.findIndex((v, i) => i % 2 === 0 && v.toLowerCase() === 'x-forwarded-for') + 1]!;
          expect(xff.split(',').pop()!.trim(), 'the last hop is the real peer').to.equal(bare);
          const trusted = trust === true || (Array.isArray(trust) && trust.includes(bare));
          const proto = out[out.findIndex((v, i) => i % 2 === 0 && v.toLowerCase() === 'x-forwarded-proto') + 1];
          if (!trusted) {
            expect(proto, 'an untrusted client cannot claim https').to.equal('http');
            const hostIdx = out.findIndex((v, i) => i % 2 === 0 && v.toLowerCase() === 'x-forwarded-host');
            const firstHost = pairs.find(([n]) => n.toLowerCase() === 'host')?.[1];
            if (hostIdx === -1) expect(firstHost || undefined).to.equal(undefined);
            else expect(out[hostIdx + 1]).to.equal(firstHost);
          }
        }),
        { numRuns: RUNS },
      );
    });

    it('responseHeaders drops hop-by-hop and Connection-nominated fields and keeps the rest in order, from strings or bytes', function () {
      fc.assert(
        fc.property(rawHeadersArb, (pairs) => {
          const out = responseHeaders(pairs.flat());
          const drop = nominated(pairs);
          const expected = pairs.filter(([n]) => !HOP_BY_HOP.includes(n.toLowerCase()) && !drop.has(n.toLowerCase())).flat();
          expect(out).to.deep.equal(expected);
          // The same head as undici hands it over: the node's bytes, read as latin1.
          expect(responseHeaders(pairs.flat().map((f) => Buffer.from(f, 'latin1'))), 'from bytes').to.deep.equal(expected);
        }),
        { numRuns: RUNS },
      );
    });

    it('clientAddress is the socket peer unless the peer is trusted, and always an address', function () {
      fc.assert(
        fc.property(ipArb, xffValue, fc.constantFrom<false | true | string[]>(false, true, ['127.0.0.1', '10.0.0.1']), (peer, xff, trust) => {
          const bare = peer.startsWith('::ffff:') ? peer.slice(7) : peer;
          const addr = clientAddress(fakeRequest([['X-Forwarded-For', xff]], peer), trust);
          expect(isIP(addr), addr).to.not.equal(0);
          const trusted = trust === true || (Array.isArray(trust) && trust.includes(bare));
          if (!trusted) expect(addr, 'an untrusted client cannot pick its own address').to.equal(bare);
          else expect([bare, ...xff.split(',').map((h) => h.trim().replace(/^::ffff:/, ''))]).to.include(addr);
        }),
        { numRuns: RUNS },
      );
    });

    const cookieValue = fc.string({ unit: fc.constantFrom(...'ABCDEFabcdef0123456789-_'), maxLength: 24 });
    const cookieHeader = fc.array(fc.tuple(fc.constantFrom('route', 'sid', 'lb', 'Route', 'a'), cookieValue), { maxLength: 5 }).map((p) => p.map(([n, v]) => `${n}=${v}`).join('; '));

    it('readCookie agrees with the app nodes\' cookie parser on which value wins, and dropCookie removes exactly that cookie', function () {
      fc.assert(
        fc.property(fc.oneof(cookieHeader, fc.string({ maxLength: 80 })), fc.constantFrom('route', 'lb', 'sid'), (header, name) => {
          const read = readCookie(header, name);
          if (/^[A-Za-z0-9=;_ -]*$/.test(header)) expect(read).to.equal(parseCookies(header)[name]);
          const left = dropCookie(header, name);
          if (left !== undefined) {
            expect(readCookie(left, name)).to.equal(undefined);
            expect(left.split(';').length).to.be.at.most(header.split(';').length);
          }
        }),
        { numRuns: RUNS },
      );
    });

    it('insert mode writes an opaque, HttpOnly cookie, Secure when asked or when SameSite=None, for any accepted sticky config', function () {
      const stickyArb = fc.record({
        cookieName: fc.oneof(fc.constantFrom('lb', 'route', 'SERVERID'), token),
        secure: fc.boolean(),
        sameSite: fc.constantFrom('Lax', 'Strict', 'None'),
        maxAge: fc.option(fc.oneof(fc.constantFrom('1h', '30m', '0'), fc.nat({ max: 10_000_000 })), { nil: undefined }),
        nocache: fc.boolean(),
      }, { requiredKeys: [] });
      fc.assert(
        fc.property(stickyArb, fc.option(fc.constantFrom('private', 'max-age=60', 'no-store'), { nil: undefined }), (sticky, cacheControl) => {
          let config;
          try {
            config = parseProxyConfig({ secret: SECRET, targets: [{ id: 'node-a', url: 'http://127.0.0.1:1' }, { id: 'node-b', url: 'http://127.0.0.1:2' }], sticky: { mode: 'insert', ...sticky } });
          } catch {
            return; // refused by the config loader (checked in fuzz-config)
          }
          const out = new Stickiness(config).insertHeaders('node-b', undefined, cacheControl)!;
          const cookie = out['set-cookie']!;
          const attrs = cookie.split(';').map((a) => a.trim().toLowerCase());
          expect(cookie.split(';')[0]).to.equal(`${config.sticky.cookieName}=${routeTag('node-b', SECRET[0]!)}`);
          expect(cookie).to.not.include('node-b').and.not.include('127.0.0.1');
          expect(attrs).to.include('httponly').and.include('path=/');
          expect(attrs).to.include(`samesite=${config.sticky.sameSite.toLowerCase()}`);
          if (config.sticky.secure || config.sticky.sameSite === 'None') expect(attrs).to.include('secure');
          else expect(attrs).to.not.include('secure');
          // As HAProxy's nocache: a shared cache must not hand the cookie to other clients.
          if (config.sticky.nocache) expect(out['cache-control']).to.include('no-cache="set-cookie"');
        }),
        { numRuns: RUNS },
      );
    });

    it('Stickiness pins only on a genuine tag, for both modes', function () {
      const targets = [{ id: 'node-a' }, { id: 'node-b' }, { id: 'node-c' }];
      const genuine = new Map(targets.flatMap((t) => SECRET.map((s) => [routeTag(t.id, s), t.id] as const)));
      const tagChars = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');
      const mutated = fc.tuple(fc.constantFrom(...genuine.keys()), fc.nat({ max: 21 }), tagChars).map(([t, i, c]) => t.slice(0, i) + c + t.slice(i + 1));
      const value = fc.oneof(mutated, fc.string({ unit: tagChars, minLength: 22, maxLength: 22 }), fc.constantFrom(...genuine.keys()), fc.string({ maxLength: 40 }), fc.constant('node-a'));
      for (const mode of ['learn', 'insert'] as const) {
        const sticky = new Stickiness({ sticky: { mode, cookieName: 'route', secure: false, sameSite: 'Lax', nocache: true } as never, secret: SECRET, targets: targets as never });
        fc.assert(
          fc.property(fc.string({ maxLength: 30 }).filter((s) => !s.includes('route')), value, (junk, v) => {
            const pinned = sticky.pinned({ cookie: `${junk}; route=${v}` });
            const readBack = readCookie(`${junk}; route=${v}`, 'route');
            expect(pinned, v).to.equal(readBack === undefined ? undefined : genuine.get(readBack));
            const set = sticky.insertHeaders('node-b', pinned, undefined);
            if (set) expect(set['set-cookie']).to.not.include('node-b');
          }),
          { numRuns: RUNS },
        );
      }
    });
  });

  describe('end to end through a real proxy (FUZZ_HTTP_RUNS requests)', function () {
    let echo: Server;
    let proxy: Proxy;
    let seen: Array<{ raw: string[] }> = [];

    before(async function () {
      echo = createServer((req, res) => {
        seen.push({ raw: req.rawHeaders });
        res.setHeader('Connection', 'x-backend-hop');
        res.setHeader('X-Backend-Hop', 'must not reach the client');
        res.setHeader('Keep-Alive', 'timeout=5');
        res.end('ok');
      });
      await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
      proxy = createProxy({ listen: 0, secret: SECRET, targets: [{ id: 'node-a', url }, { id: 'node-b', url }], sticky: { mode: 'insert', cookieName: 'lb' }, healthCheck: { enabled: false }, status: { token: STATUS_TOKEN } });
      await proxy.listen();
    });
    after(async function () {
      await proxy?.close();
      await new Promise((r) => echo?.close(r));
    });

    it('never forwards hop-by-hop fields either way, never trusts a client\'s X-Forwarded-*, and re-pins a forged cookie', async function () {
      const e2eName = fc.oneof(
        fc.constantFrom('keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'accept', 'x-secret-hop').chain(randomCase),
        token.filter((t) => !['host', 'content-length', 'transfer-encoding', 'upgrade', 'connection', 'expect', 'cookie'].includes(t.toLowerCase())),
      );
      const e2eConnection = fc.array(fc.oneof(token, fc.constantFrom('keep-alive', 'x-secret-hop', 'accept')), { maxLength: 3 }).map((t) => t.filter((x) => !/^(upgrade|close|host|content-length|transfer-encoding)$/i.test(x)).join(', '));
      const lbValue = fc.oneof(
        fc.constantFrom(...[routeTag('node-a', SECRET[0]!), routeTag('node-b', SECRET[1]!)]).map((t) => t.slice(0, 21) + (t[21] === 'A' ? 'B' : 'A')),
        fc.string({ unit: fc.constantFrom(...'ABCDEFabcdef0123456789-_'), minLength: 22, maxLength: 22 }),
        headerValue.filter((v) => !v.includes(';')),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(e2eName, headerValue), { maxLength: 8 }), e2eConnection, lbValue, async (pairs, connection, lb) => {
          seen = [];
          const headers: Array<[string, string]> = [['Host', `127.0.0.1:${proxy.port}`], ...pairs, ['Cookie', `lb=${lb}; sid=abc`], ['Connection', connection ? `${connection}, close` : 'close']];
          const res = await rawExchange(proxy.port!, headers);
          expect(res.statusCode).to.equal(200);
          expect(seen).to.have.length(1);
          const got = seen[0]!.raw;
          const names = namesOf(got);
          for (const n of ['keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade']) expect(names, n).to.not.include(n);
          for (const n of nominated(headers)) expect(names, `${n} named by Connection`).to.not.include(n);
          const value = (n: string) => got[got.findIndex((v, i) => i % 2 === 0 && v.toLowerCase() === n) + 1];
          expect(value('x-forwarded-for')!.split(',').pop()!.trim()).to.equal('127.0.0.1');
          expect(value('x-forwarded-proto')).to.equal('http');
          expect(value('cookie') ?? '', 'insert mode hides its cookie from the node').to.not.match(/(^|;\s*)lb=/);
          // Response side: the backend's hop-by-hop fields stop at the proxy.
          expect(res.headers['x-backend-hop']).to.equal(undefined);
          expect(res.headers['keep-alive']).to.not.equal('timeout=5');
          // A forged or mutated cookie never pins: the proxy writes a genuine one.
          const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('lb='));
          expect(setCookie, 'a fresh route cookie').to.be.a('string');
          expect([routeTag('node-a', SECRET[0]!), routeTag('node-b', SECRET[0]!)]).to.include(setCookie!.slice(3, 25));
        }),
        { numRuns: HTTP_RUNS },
      );
    });

    it('opens the status page and its admin endpoints to the exact token only', async function () {
      const ok = await rawExchange(proxy.port!, [['Host', 'x'], ['Connection', 'close'], ['Authorization', `Bearer ${STATUS_TOKEN}`]], '/__scaleout/status.json');
      expect(ok.statusCode, 'the genuine token').to.equal(200);
      const tokenLike = fc.oneof(
        mutationOf(STATUS_TOKEN),
        fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), maxLength: 40 }),
        fc.constantFrom('', ' ', STATUS_TOKEN.toUpperCase(), `${STATUS_TOKEN}\t`.trim() + 'x', STATUS_TOKEN.slice(0, -1)),
      );
      await fc.assert(
        fc.asyncProperty(tokenLike, fc.constantFrom('header', 'query', 'basic'), fc.constantFrom('.json', '', '/targets/node-a/drain', '/algorithm?name=ip-hash'), async (given, how, path) => {
          fc.pre(given.trim() !== STATUS_TOKEN);
          const headers: Array<[string, string]> = [['Host', 'x'], ['Connection', 'close'], ['X-Scaleout-Admin', '1']];
          if (how === 'header') headers.push(['Authorization', `Bearer ${given}`]);
          if (how === 'basic') headers.push(['Authorization', `Basic ${Buffer.from(`admin:${STATUS_TOKEN}`).toString('base64')}`]);
          const query = how === 'query' ? `${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(given)}` : '';
          const res = await rawExchange(proxy.port!, headers, `/__scaleout/status${path}${query}`, path.startsWith('/') ? 'POST' : 'GET');
          expect(res.statusCode, `${how} ${JSON.stringify(given)} ${path}`).to.equal(401);
        }),
        { numRuns: HTTP_RUNS },
      );
      expect(proxy.stats().targets.every((t) => !t.draining), 'no admin action went through').to.equal(true);
      expect(proxy.stats().algorithm).to.equal('round-robin');
    });
  });

  describe('ip-hash through a real proxy that trusts no proxy (FUZZ_HTTP_RUNS requests)', function () {
    const servers: Server[] = [];
    let proxy: Proxy;

    before(async function () {
      const targets = [];
      for (const id of ['node-a', 'node-b', 'node-c', 'node-d']) {
        const server = createServer((_req, res) => res.end(id));
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        servers.push(server);
        targets.push({ id, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      }
      proxy = createProxy({ listen: 0, algorithm: 'ip-hash', targets, healthCheck: { enabled: false } });
      await proxy.listen();
    });
    after(async function () {
      await proxy?.close();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    });

    it('sends a client to the node of its own address whatever X-Forwarded-For it claims', async function () {
      const nodeOf = async (headers: Array<[string, string]>) => {
        const res = await new Promise<string>((resolve, reject) => {
          const socket = connect(proxy.port!, '127.0.0.1');
          let text = '';
          socket.setEncoding('latin1');
          socket.on('data', (d: string) => (text += d));
          socket.on('error', reject);
          socket.on('end', () => resolve(text));
          socket.write(`GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`);
        });
        return res.slice(res.indexOf('\r\n\r\n') + 4);
      };
      const home = await nodeOf([]);
      expect(home).to.match(/^node-[a-d]$/);
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('X-Forwarded-For', 'X-Real-IP', 'Forwarded'), fc.oneof(ipArb, xffValue, fc.constant('for=10.9.8.7'))), { minLength: 1, maxLength: 3 }), async (claims) => {
          expect(await nodeOf(claims), JSON.stringify(claims)).to.equal(home);
        }),
        { numRuns: HTTP_RUNS },
      );
    });
  });
});
