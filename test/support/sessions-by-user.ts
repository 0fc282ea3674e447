import type { RequestListener } from 'node:http';
import { expect } from 'chai';
import express from 'express';
import Koa from 'koa';
import request from 'supertest';
import type { SessionEvent, Strategy } from '@scaleout/core';
import { login as expressLogin, logout as expressLogout, session as expressSession } from '@scaleout/express';
import { login as koaLogin, logout as koaLogout, session as koaSession } from '@scaleout/koa';
import { startHttp, type RunningServer } from './http.js';
import { eventually } from '@scaleout/harness';
import { cookieOf } from './session-behaviour.js';

/**
 * One small app in Express and in Koa for the sessions-by-user suites: POST /login?user=U&ua=X
 * (login with meta { ua }), GET /me ({ user, id }), GET /set-user?user=U (sets userKey directly,
 * without login), GET /touch (changes a key), POST /logout.
 */
export function userApp(framework: 'express' | 'koa', strategy: Strategy): RequestListener {
  if (framework === 'express') {
    const app = express();
    app.use(expressSession(strategy));
    app.post('/login', async (req, res) => {
      try {
        await expressLogin(req, loginUser(req.query), loginOptions(req.query));
        res.json({ id: req.sessionID });
      } catch (err) {
        res.status(400).json({ code: (err as { code?: string }).code, message: (err as Error).message });
      }
    });
    app.get('/me', (req, res) => {
      res.json({ user: (req.session as unknown as { userId?: string }).userId ?? null, id: req.sessionID });
    });
    app.get('/set-user', (req, res) => {
      (req.session as unknown as { userId?: string }).userId = String(req.query.user);
      res.json({ id: req.sessionID });
    });
    app.get('/touch', (req, res) => {
      (req.session as unknown as { n?: number }).n = Date.now();
      res.json({ id: req.sessionID });
    });
    app.post('/logout', async (req, res) => {
      await expressLogout(req);
      res.json({ ok: true });
    });
    return app as unknown as RequestListener;
  }
  const app = new Koa();
  app.silent = true;
  app.use(koaSession(strategy, app));
  app.use(async (ctx) => {
    const s = ctx.session as unknown as { userId?: string; n?: number };
    const id = () => sessionIdOf(ctx);
    if (ctx.method === 'POST' && ctx.path === '/login') {
      try {
        await koaLogin(ctx, loginUser(ctx.query), loginOptions(ctx.query));
        ctx.body = { id: id() };
      } catch (err) {
        ctx.status = 400;
        ctx.body = { code: (err as { code?: string }).code, message: (err as Error).message };
      }
    } else if (ctx.path === '/me') ctx.body = { user: s.userId ?? null, id: id() };
    else if (ctx.path === '/set-user') {
      s.userId = String(ctx.query.user);
      ctx.body = { id: id() };
    } else if (ctx.path === '/touch') {
      s.n = Date.now();
      ctx.body = { id: id() };
    } else if (ctx.method === 'POST' && ctx.path === '/logout') {
      await koaLogout(ctx);
      ctx.body = { ok: true };
    } else ctx.status = 404;
  });
  return app.callback();
}

type Query = Record<string, unknown>;
// ?bad=object|long|proto sends a user id login must refuse; ?metaBytes=N a meta of N bytes.
function loginUser(q: Query): string {
  if (q.bad === 'object') return { id: 1 } as unknown as string;
  if (q.bad === 'long') return 'x'.repeat(10 * 1024);
  if (q.bad === 'proto') return '__proto__';
  return String(q.user);
}
function loginOptions(q: Query): { meta?: Record<string, unknown> } {
  if (q.metaBytes) return { meta: { blob: 'x'.repeat(Number(q.metaBytes)) } };
  return q.ua ? { meta: { ua: String(q.ua) } } : {};
}

// Koa has no ctx.sessionID: the id is read from the session's engine state, as the test needs it.
function sessionIdOf(ctx: Koa.Context): string | undefined {
  const s = ctx.session as object | null;
  if (!s) return undefined;
  const sym = Object.getOwnPropertySymbols(s)[0];
  return sym ? (s as Record<symbol, { id: string }>)[sym]!.id : undefined;
}

/** A cookie jar of one client: the `sid` cookie it holds. */
class Jar {
  cookie: string | undefined;
  constructor(readonly name: string) {}
  async send(server: RunningServer, method: 'get' | 'post', path: string): Promise<request.Response> {
    const r = request(server.server)[method](path);
    if (this.cookie) r.set('Cookie', this.cookie);
    const res = await r;
    const set = cookieOf(res, 'sid');
    if (set !== undefined) this.cookie = set.includes('sid=;') || /sid=(;|$)/.test(set) ? undefined : set;
    return res;
  }
}

/**
 * Waits until no node holds session `id`. Under the `store` strategies that is at once; under
 * `cluster` a destroy reaches the other nodes by replication (docs/sessions-by-user.md).
 */
async function destroyedEverywhere(nodes: readonly Strategy[], id: string): Promise<void> {
  for (const node of nodes) {
    await eventually(async () => ((await node.store.get(id)) === undefined ? true : undefined), 5000, `session ${id} destroyed on every node`);
  }
}

/** Options of {@link describeSessionsByUser}. */
export interface SessionsByUserOptions {
  /** Lifetime of the expiring sessions, and the longest to wait for their `expired` event after it. */
  expiry?: { ttl: string; latencyMs: number };
  /** Counts what the backend's user index holds (e.g. Redis keys), for the hygiene test. */
  indexSize?: (strategy: Strategy) => Promise<number>;
  /** Sessions per user and users for the hygiene test. @default 1000 users x 3 */
  hygiene?: { users: number; perUser: number };
}

/**
 * The sessions-by-user promises on one backend: two strategies (two nodes, an Express one and a
 * Koa one) over it, made by `make(ttl?)`.
 */
export function describeSessionsByUser(label: string, make: (ttl?: string) => Promise<[Strategy, Strategy]>, options: SessionsByUserOptions = {}): void {
  describe(`sessions by user: ${label}`, function () {
    this.timeout(60_000);
    let nodes: [Strategy, Strategy];
    let servers: RunningServer[];
    const events: SessionEvent[] = [];
    const listen = (e: SessionEvent) => events.push(e);
    before(async () => {
      nodes = await make();
      servers = [await startHttp(userApp('express', nodes[0])), await startHttp(userApp('koa', nodes[1]))];
      for (const n of nodes) n.on('session', listen);
    });
    after(async () => {
      await Promise.all((servers ?? []).map((s) => s.close()));
      await Promise.all((nodes ?? []).map((n) => n.close()));
    });

    it('lists a user\'s two devices with their meta; destroyUser(except) logs out the other, on every node', async () => {
      const user = `u-devices-${Date.now()}`;
      const a = new Jar('a');
      const b = new Jar('b');
      const idA = (await a.send(servers[0]!, 'post', `/login?user=${user}&ua=phone`)).body.id as string;
      const idB = (await b.send(servers[1]!, 'post', `/login?user=${user}&ua=laptop`)).body.id as string;
      const listed = (await eventually(async () => {
        const l = await nodes[0].sessions.byUser(user);
        return l.length === 2 ? l : undefined;
      }, 5000, "both sessions listed"))!;
      expect(listed.map((s) => s.id).sort()).to.deep.equal([idA, idB].sort());
      expect(listed.map((s) => s.meta).sort((x, y) => String(x?.ua).localeCompare(String(y?.ua)))).to.deep.equal([{ ua: 'laptop' }, { ua: 'phone' }]);
      for (const s of listed) {
        expect(s.userId).to.equal(user);
        expect(s.expiresAt).to.be.above(Date.now());
        expect(s.lastSeenAt).to.be.at.most(Date.now());
        expect(s.createdAt).to.be.at.most(s.lastSeenAt + 1);
      }
      expect(await nodes[1].sessions.destroyUser(user, { except: idA })).to.equal(1);
      expect(await nodes[1].store.get(idB), 'destroyed on the node that ran destroyUser').to.equal(undefined);
      await destroyedEverywhere(nodes, idB);
      for (const server of servers) {
        expect((await b.send(server, 'get', '/me')).body.user, 'the destroyed device, on each node').to.equal(null);
        expect((await a.send(server, 'get', '/me')).body.user, 'the kept device, on each node').to.equal(user);
      }
      expect(events.some((e) => e.type === 'destroyed' && e.id === idB && e.userId === user)).to.equal(true);
      expect(events.some((e) => e.type === 'created' && e.id === idA)).to.equal(true);
    });

    it('login gives a new id: the id from before login loads nothing afterwards', async () => {
      const jar = new Jar('f');
      const before = (await jar.send(servers[0]!, 'get', '/touch')).body.id as string;
      const fixated = jar.cookie!;
      const after = (await jar.send(servers[0]!, 'post', '/login?user=u-fixation')).body.id as string;
      expect(after).to.not.equal(before);
      expect(await nodes[0].store.get(before)).to.equal(undefined);
      await destroyedEverywhere(nodes, before);
      const replay = await request(servers[1]!.server).get('/me').set('Cookie', fixated);
      expect(replay.body.user).to.equal(null);
      expect(replay.body.id).to.not.equal(before);
    });

    it('indexes a session whose userKey is set without login, and emits userChanged', async () => {
      const user = `u-direct-${Date.now()}`;
      for (const [i, server] of servers.entries()) {
        const jar = new Jar(`d${i}`);
        await jar.send(server, 'get', '/touch');
        const id = (await jar.send(server, 'get', `/set-user?user=${user}-${i}`)).body.id as string;
        // Read on the first node: under the cluster strategy a write made on another reaches it by replication.
        const listed = await eventually(async () => {
          const ids = (await nodes[0].sessions.byUser(`${user}-${i}`)).map((s) => s.id);
          return ids.length > 0 ? ids : undefined;
        }, 5000, 'the session listed on the first node');
        expect(listed).to.deep.equal([id]);
        expect(events.some((e) => e.type === 'userChanged' && e.id === id && e.userId === `${user}-${i}`)).to.equal(true);
      }
    });

    it('logout destroys the session, clears its cookie and takes it out of byUser', async () => {
      const user = `u-logout-${Date.now()}`;
      const jar = new Jar('l');
      const id = (await jar.send(servers[1]!, 'post', `/login?user=${user}`)).body.id as string;
      const out = await request(servers[1]!.server).post('/logout').set('Cookie', jar.cookie!);
      const cleared = ([] as string[]).concat(out.headers['set-cookie'] ?? []).find((l) => l.startsWith('sid='));
      expect(cleared, 'the clearing Set-Cookie').to.match(/^sid=;/);
      expect(Date.parse(/expires=([^;]+)/i.exec(cleared!)![1]!)).to.be.below(Date.now());
      expect(await nodes[1].sessions.byUser(user), 'on the node that logged out').to.deep.equal([]);
      expect(await nodes[1].store.get(id)).to.equal(undefined);
      await destroyedEverywhere(nodes, id);
      expect(await nodes[0].sessions.byUser(user), 'on the other node').to.deep.equal([]);
      expect(events.some((e) => e.type === 'destroyed' && e.id === id && e.userId === user)).to.equal(true);
    });

    it('refuses a userId that is an object, 10 KB long or __proto__, and meta over 1 KB, with a clear error from login', async () => {
      for (const server of servers) {
        const jar = new Jar('bad');
        await jar.send(server, 'get', '/touch');
        for (const q of ['bad=object', 'bad=long', 'bad=proto', 'user=ok&metaBytes=2000']) {
          const res = await request(server.server).post(`/login?${q}`).set('Cookie', jar.cookie!);
          expect(res.status, q).to.equal(400);
          expect(res.body.code, q).to.equal('ERR_SCALEOUT_INVALID_ARGUMENT');
          expect(res.body.message, q).to.match(q.includes('meta') ? /meta is \d+ bytes/ : /userId must be a string of 1 to 256 characters/);
        }
        // nothing was lost: the session is still there, with no user
        expect((await jar.send(server, 'get', '/me')).body.user).to.equal(null);
      }
      for (const bad of [{ id: 1 }, 'x'.repeat(10 * 1024), '__proto__', '']) {
        await expect(nodes[0].sessions.byUser(bad as string)).to.be.rejectedWith(/userId must be a string of 1 to 256 characters/);
      }
    });

    it('drops expired sessions from byUser and emits expired within the documented latency', async () => {
      const { ttl, latencyMs } = options.expiry ?? { ttl: '1s', latencyMs: 3000 };
      const pair = await make(ttl);
      const got: SessionEvent[] = [];
      pair[0].on('session', (e) => got.push(e));
      const server = await startHttp(userApp('express', pair[0]));
      try {
        const user = `u-expiry-${Date.now()}`;
        const indexBefore = await options.indexSize?.(pair[0]);
        const id = (await new Jar('e').send(server, 'post', `/login?user=${user}`)).body.id as string;
        expect((await pair[0].sessions.byUser(user)).map((s) => s.id)).to.deep.equal([id]);
        const started = Date.now();
        const e = (await eventually(() => got.find((x) => x.type === 'expired' && x.id === id), Number.parseInt(ttl, 10) * 1000 + latencyMs, 'the expired event'))!;
        expect(Date.now() - started).to.be.at.least(900);
        expect(e.userId).to.equal(user);
        expect(await pair[0].sessions.byUser(user)).to.deep.equal([]);
        // Nothing of the expired session stays in the index for long (a Redis shadow lingers 5 s
        // for the other subscribers), so the suite's later counts of the index are not disturbed.
        if (options.indexSize) await eventually(async () => (await options.indexSize!(pair[0])) === indexBefore, 15_000, 'the index back to its size before the login');
      } finally {
        await server.close();
        await Promise.all(pair.map((n) => n.close()));
      }
    });

    it(`leaves nothing in the index once every session of many users is destroyed`, async () => {
      const { users, perUser } = options.hygiene ?? { users: 1000, perUser: 3 };
      const store = nodes[0].store;
      // What the other tests left (their sessions live on) is not this test's to clear.
      const indexBefore = await options.indexSize?.(nodes[0]);
      const ids: string[] = [];
      for (let u = 0; u < users; u++) {
        for (let k = 0; k < perUser; k++) {
          const id = `hyg-${u}-${k}-${Date.now()}`;
          ids.push(id);
          await store.set(id, { userId: `hyg-user-${u}`, cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString() } }, 60_000);
        }
      }
      expect((await nodes[0].sessions.byUser('hyg-user-7')).length).to.equal(perUser);
      let destroyed = 0;
      for (let u = 0; u < users; u++) destroyed += await nodes[0].sessions.destroyUser(`hyg-user-${u}`);
      expect(destroyed).to.equal(users * perUser);
      for (let u = 0; u < users; u += 97) expect(await store.sessionsOf!(`hyg-user-${u}`)).to.deep.equal([]);
      if (options.indexSize) expect(await options.indexSize(nodes[0])).to.equal(indexBefore);
    });
  });
}

/**
 * Where `expired` goes with `sessions.events` "once" and "every-node": three nodes over one
 * backend, made by `make(events, nodeIds)`, save `n` sessions with a 1 s lifetime. With "once",
 * the events summed over the three nodes name each session exactly once; with "every-node", each
 * node emits all `n`. Duplicates are looked for once every node's store has reported every
 * expiry and its claims have had `settleMs` to land.
 */
export function describeExpiredDelivery(label: string, make: (events: 'once' | 'every-node', nodeIds: string[]) => Promise<Strategy[]>, options: { n: number; latencyMs: number; settleMs?: number }): void {
  describe(`expired delivery: ${label}`, function () {
    this.timeout(60_000);
    for (const events of ['once', 'every-node'] as const) {
      it(events === 'once' ? `with events "once", ${options.n} expiries are emitted ${options.n} times over three nodes, each id once` : `with events "every-node", each of three nodes emits all ${options.n} expiries`, async () => {
        const nodeIds = ['n1', 'n2', 'n3'].map((n) => `${n}-${events}-${Date.now()}`);
        const nodes = await make(events, nodeIds);
        const emitted: string[][] = nodes.map(() => []);
        const heard: string[][] = nodes.map(() => []);
        nodes.forEach((node, i) => {
          node.on('session', (e) => e.type === 'expired' && emitted[i]!.push(e.id));
          node.store.on('expired', (id: string) => heard[i]!.push(id));
        });
        try {
          const prefix = `exp-${events}-${Date.now()}-`;
          const ids = Array.from({ length: options.n }, (_, k) => `${prefix}${k}`);
          for (const id of ids) await nodes[0]!.store.set(id, { userId: `u-${id}`, cookie: { originalMaxAge: 1000, expires: new Date(Date.now() + 1000).toISOString() } }, 1000);
          const mine = (list: string[]) => list.filter((id) => id.startsWith(prefix));
          await eventually(() => heard.every((h) => mine(h).length >= options.n), 1000 + options.latencyMs, 'every node hearing every expiry').catch((err: Error) => {
            throw new Error(`${err.message}: heard ${heard.map((h) => mine(h).length).join(', ')}, emitted ${emitted.map((e) => mine(e).length).join(', ')} of ${options.n}`);
          });
          await new Promise((r) => setTimeout(r, options.settleMs ?? 500));
          const perNode = emitted.map((e) => mine(e).sort());
          if (events === 'once') {
            const all = perNode.flat().sort();
            expect(all, 'each id emitted once over the three nodes').to.deep.equal([...ids].sort());
          } else {
            for (const [i, got] of perNode.entries()) expect(got, `node ${i + 1}`).to.deep.equal([...ids].sort());
          }
        } finally {
          await Promise.all(nodes.map((n) => n.close()));
        }
      });
    }
  });
}
