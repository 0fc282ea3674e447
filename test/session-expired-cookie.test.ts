import { expect } from 'chai';
import request from 'supertest';
import { createStrategy, MemoryStore, unsignSessionId, type Strategy } from '@scaleout/core';
import { ExpressSessionStore } from '@scaleout/express';
import { buildApp, FRAMEWORKS } from './support/apps.js';
import { startHttp, type RunningServer } from './support/http.js';
import { type RedisServer, startRedis } from '@scaleout/harness';
import { cookieOf } from './support/session-behaviour.js';

// An app that ends a session by its lifetime (`req.session.cookie.maxAge = 0` in Express, the
// usual logout; `ctx.session.maxAge` in Koa) must not see it come back when the old cookie is
// replayed: the store deletes it, as express-session's MemoryStore and connect-redis do.

const SECRET = 'expired-cookie-secret';

function idOf(cookie: string): string {
  return unsignSessionId(decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1)), [SECRET])!;
}

describe('a session the app expired is gone: a replayed cookie loads nothing', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  const backends: [string, () => Promise<Strategy>][] = [
    ['memory', () => createStrategy({ strategy: 'sticky', nodeId: 'n1', secret: SECRET })],
    ['Redis', () => createStrategy({ strategy: 'store', nodeId: 'n1', secret: SECRET, store: { type: 'redis', url: redis.url, prefix: `exp${Date.now()}:` } })],
  ];

  for (const [backend, make] of backends) {
    for (const framework of FRAMEWORKS) {
      describe(`${framework} on ${backend}`, () => {
        let strategy: Strategy;
        let server: RunningServer;
        before(async () => {
          strategy = await make();
          server = await startHttp(buildApp(framework, strategy));
        });
        after(async () => {
          await server?.close();
          await strategy?.close();
        });

        for (const ms of [0, -60_000]) {
          it(`deletes the session once its lifetime is set to ${ms} ms, and a replay of its cookie gets a fresh one`, async () => {
            const login = await request(server.server).post('/login').expect(200);
            const old = cookieOf(login, 'sid')!;
            const oldId = idOf(old);
            expect((await request(server.server).get('/peek').set('Cookie', old).expect(200)).body.user).to.equal('alice');

            const ended = await request(server.server).post(`/expire?ms=${ms}`).set('Cookie', old).expect(200);
            // The cookie the client gets back is already expired.
            const line = ([] as string[]).concat(ended.headers['set-cookie'] ?? []).find((l) => l.startsWith('sid='));
            expect(line, 'the expiring Set-Cookie').to.be.a('string');
            expect(Date.parse(/expires=([^;]+)/i.exec(line!)![1]!)).to.be.at.most(Date.now());
            // The store no longer holds it, as soon as the response is out.
            expect(await strategy.store.get(oldId)).to.equal(undefined);

            const replay = await request(server.server).get('/count').set('Cookie', old).expect(200);
            expect(replay.body).to.include({ count: 1, user: null });
            const fresh = cookieOf(replay, 'sid');
            expect(fresh, 'a new session cookie').to.be.a('string');
            expect(idOf(fresh!)).to.not.equal(oldId);
          });
        }
      });
    }
  }
});

/** A MemoryStore that records the TTL of every write. */
class TtlRecordingStore extends MemoryStore {
  readonly ttls: number[] = [];
  override set(id: string, data: Record<string, unknown>, ttlMs: number): Promise<void> {
    this.ttls.push(ttlMs);
    return super.set(id, data, ttlMs);
  }
}

describe('ExpressSessionStore takes the lifetime from the cookie', () => {
  let inner: TtlRecordingStore;
  let store: ExpressSessionStore;
  beforeEach(() => {
    inner = new TtlRecordingStore();
    store = new ExpressSessionStore(inner, { ttlMs: 30 * 60_000 });
  });
  afterEach(() => inner.close());

  const set = (sid: string, sess: unknown) => new Promise<void>((resolve, reject) => store.set(sid, sess as never, (err) => (err ? reject(err as Error) : resolve())));
  const get = (sid: string) => new Promise<unknown>((resolve, reject) => store.get(sid, (err, v) => (err ? reject(err as Error) : resolve(v))));

  it('gives the backend the time left until `expires` when the cookie carries only `expires`', async () => {
    await set('a', { cookie: { expires: new Date(Date.now() + 90_000).toISOString(), originalMaxAge: null }, n: 1 });
    expect(await get('a')).to.deep.include({ n: 1 });
    expect(inner.ttls).to.have.length(1);
    expect(inner.ttls[0]).to.be.within(89_000, 90_000);
  });

  it('deletes, not keeps, a session whose `expires` has passed', async () => {
    await set('b', { cookie: { expires: new Date(Date.now() + 60_000).toISOString() }, n: 1 });
    await set('b', { cookie: { expires: new Date(Date.now() - 1).toISOString() }, n: 2 });
    expect(await inner.get('b')).to.equal(undefined);
  });

  it('reads a stored session whose cookie expired as none, and removes it', async () => {
    await inner.set('c', { cookie: { expires: new Date(Date.now() - 1000).toISOString() }, user: 'alice' }, 60_000);
    expect(await get('c')).to.equal(null);
    expect(await inner.get('c')).to.equal(undefined);
  });
});
