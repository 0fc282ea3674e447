import type { RequestListener } from 'node:http';
import { expect } from 'chai';
import express from 'express';
import expressSession from 'express-session';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import { Cluster, Redis } from 'ioredis';
import request from 'supertest';
import { createStrategy, type Strategy } from '@scaleout/core';
import { session } from '@scaleout/express';
import { startRedis, startRedisCluster } from '@scaleout/harness';
import { startHttp, type RunningServer } from './support/http.js';
import { cookieOf } from './support/session-behaviour.js';

const SECRET = 'the secret the connect-redis app signed its cookies with';
const COOKIE = 'connect.sid';
const HOUR = 3_600_000;
const SESSIONS = 100;

type Sess = { user?: string; cart?: unknown[]; visits?: number; note?: string };

/** The app before the move: express-session + connect-redis 8 with its defaults (prefix `sess:`, JSON). */
function connectRedisApp(client: Redis | Cluster): RequestListener {
  const app = express();
  app.use(expressSession({ store: new ConnectRedisStore({ client }), secret: SECRET, name: COOKIE, resave: false, saveUninitialized: false, cookie: { maxAge: 2 * HOUR } }));
  app.post('/login', (req, res) => {
    const s = req.session as unknown as Sess;
    const i = Number(req.query.i);
    s.user = `user${i}`;
    s.cart = [i, { sku: `sku-${i}`, qty: i % 7 }, 'é ✓'];
    s.visits = 1;
    res.json({ ok: true });
  });
  return app as unknown as RequestListener;
}

/** The app after the move: the same routes' data through @scaleout/express. */
function scaleoutApp(strategy: Strategy): RequestListener {
  const app = express();
  app.use(session(strategy));
  app.get('/me', (req, res) => {
    const s = req.session as unknown as Sess;
    res.json({ user: s.user ?? null, cart: s.cart ?? null, visits: s.visits ?? null, note: s.note ?? null });
  });
  app.post('/visit', (req, res) => {
    const s = req.session as unknown as Sess;
    s.visits = (s.visits ?? 0) + 1;
    s.note = 'saved by scaleout';
    res.json({ visits: s.visits });
  });
  return app as unknown as RequestListener;
}

const expected = (i: number) => ({ user: `user${i}`, cart: [i, { sku: `sku-${i}`, qty: i % 7 }, 'é ✓'] });

for (const topology of ['standalone', 'cluster'] as const) {
  describe(`moving from express-session + connect-redis 8 to @scaleout/express (Redis ${topology})`, function () {
    this.timeout(120_000);
    let stop: () => Promise<void>;
    let connect: () => Redis | Cluster;
    let storeShape: Record<string, unknown>;
    const servers: RunningServer[] = [];
    let strategy: Strategy | undefined;
    let raw: Redis | Cluster;

    before(async () => {
      if (topology === 'standalone') {
        const redis = await startRedis();
        stop = () => redis.stop();
        connect = () => new Redis(redis.url);
        storeShape = { url: redis.url };
      } else {
        const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
        stop = () => cluster.stop();
        connect = () => new Cluster(cluster.addresses.map((a) => ({ host: a.split(':')[0]!, port: Number(a.split(':')[1]) })));
        storeShape = { nodes: cluster.addresses };
      }
      raw = connect();
    });
    after(async () => {
      await Promise.all(servers.map((s) => s.close()));
      await strategy?.close();
      raw?.disconnect();
      await stop?.();
    });

    it(`keeps all ${SESSIONS} clients logged in with their data and TTLs, and rewrites each session as a hash on its next save`, async () => {
      // Before: 100 clients log in on the connect-redis app.
      const oldClient = connect();
      const before = await startHttp(connectRedisApp(oldClient));
      servers.push(before);
      const cookies: string[] = [];
      for (let i = 0; i < SESSIONS; i++) {
        const res = await request(before.server).post(`/login?i=${i}`).expect(200);
        cookies.push(cookieOf(res, COOKIE)!);
      }
      await before.close();
      oldClient.disconnect();
      const ids = cookies.map((c) => decodeURIComponent(c.split('=')[1]!).slice(2).split('.')[0]!);
      for (const id of ids) expect(await raw.type(`sess:${id}`)).to.equal('string');
      // Time passes: an hour later these sessions have one of their two hours left, in Redis and
      // in the cookie record connect-redis stored (the two agree, as they do in real life).
      for (const id of ids.slice(0, 10)) {
        const stored = JSON.parse((await raw.get(`sess:${id}`))!) as { cookie: { expires: string } };
        stored.cookie.expires = new Date(Date.now() + HOUR).toISOString();
        await raw.set(`sess:${id}`, JSON.stringify(stored), 'PX', HOUR);
      }

      // After: the same Redis, secret and cookie name, through @scaleout/express with migrateFrom.
      strategy = await createStrategy({
        strategy: 'store',
        secret: SECRET,
        session: { cookieName: COOKIE, ttl: '30m' },
        store: { type: 'redis', ...storeShape, migrateFrom: 'connect-redis' },
      } as Parameters<typeof createStrategy>[0]);
      const after = await startHttp(scaleoutApp(strategy));
      servers.push(after);

      // Nobody's session was touched by the start-up: the TTLs left are those connect-redis set.
      for (const id of ids.slice(0, 10)) expect(await raw.pttl(`sess:${id}`)).to.be.within(HOUR - 60_000, HOUR);

      // Every client is still logged in with its data, whether its first request reads or saves.
      for (let i = 0; i < SESSIONS; i++) {
        if (i % 2 === 0) {
          const res = await request(after.server).get('/me').set('Cookie', cookies[i]!).expect(200);
          expect(res.body, `client ${i}`).to.deep.equal({ ...expected(i), visits: 1, note: null });
        } else {
          const res = await request(after.server).post('/visit').set('Cookie', cookies[i]!).expect(200);
          expect(res.body.visits, `client ${i}`).to.equal(2);
        }
      }
      // A read that writes nothing leaves the string; a save rewrote it as a hash, and so did the
      // touch of a read an hour on (its stored expiry had fallen behind by more than touchAfter).
      // Lifetimes stay the session's own two hours (its cookie's), not the new config's 30 minutes.
      for (let i = 0; i < SESSIONS; i++) {
        const key = `sess:${ids[i]}`;
        expect(await raw.type(key), `client ${i}`).to.equal(i % 2 === 0 && i >= 10 ? 'string' : 'hash');
        expect(await raw.pttl(key), `client ${i}`).to.be.within(2 * HOUR - 60_000, 2 * HOUR);
      }
      for (let i = 0; i < SESSIONS; i++) {
        const res = await request(after.server).get('/me').set('Cookie', cookies[i]!).expect(200);
        expect(res.body, `client ${i} after the rewrite`).to.deep.equal({ ...expected(i), visits: i % 2 === 0 ? 1 : 2, note: i % 2 === 0 ? null : 'saved by scaleout' });
      }
      expect((strategy.store as unknown as { invalidValues: number }).invalidValues).to.equal(0);
    });
  });
}
