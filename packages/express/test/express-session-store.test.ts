import FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import express from 'express';
import expressSession from 'express-session';
import request from 'supertest';
import { MemoryStore, StoreUnavailableError } from '@scaleout/core';
import { ExpressSessionStore } from '@scaleout/express';
import { startHttp, type RunningServer } from '../../../test/support/http.js';

// express-session's own store contract (README "Session Store Implementation"), driven through a
// real Express app that uses express-session directly with our store: the path for apps that
// keep their express-session code and only swap the store.
describe('ExpressSessionStore with plain express-session', function () {
  let backing: MemoryStore;
  let store: ExpressSessionStore;
  let server: RunningServer;

  const call = <T>(fn: (cb: (err?: unknown, v?: T) => void) => void) =>
    new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));

  before(async function () {
    backing = new MemoryStore();
    store = new ExpressSessionStore(backing);
    const app = express();
    app.use(expressSession({ store, secret: 'k', resave: false, saveUninitialized: false, cookie: { maxAge: 60_000 } }));
    app.get('/count', (req, res) => {
      const s = req.session as unknown as { count?: number };
      s.count = (s.count ?? 0) + 1;
      res.json({ count: s.count, id: req.sessionID });
    });
    app.get('/peek', (req, res) => {
      res.json({ count: (req.session as unknown as { count?: number }).count ?? null });
    });
    server = await startHttp(app as unknown as Parameters<typeof startHttp>[0]);
  });
  after(async function () {
    await server.close();
    await backing.close();
  });

  it('all, length and clear see the sessions the app made', async function () {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await request(server.server).get('/count').expect(200)).body.id);
    expect(await call<number>((cb) => store.length(cb))).to.equal(3);
    const all = await call<{ id: string; count: number; cookie: unknown }[]>((cb) => store.all(cb as never));
    expect(all.map((s) => s.id).sort()).to.deep.equal([...ids].sort());
    expect(all[0]!.count).to.equal(1);
    expect(all[0]!.cookie).to.be.an('object');
    // connect-redis's API: the same calls without a callback are promises
    expect((await store.ids())!.sort()).to.deep.equal([...ids].sort());
    expect(await store.length()).to.equal(3);
    expect((await store.all())!.map((s) => (s as { id?: string }).id).sort()).to.deep.equal([...ids].sort());
    await call((cb) => store.clear(cb));
    expect(await call<number>((cb) => store.length(cb))).to.equal(0);
  });

  it('touch extends the expiry of an unchanged session (express-session calls it on reads)', async function () {
    const agent = request.agent(server.server);
    const id = (await agent.get('/count').expect(200)).body.id as string;
    // The backing MemoryStore reads expiry from Date: a faked one moves past the 150 ms at once.
    const clock = FakeTimers.install({ toFake: ['Date'] });
    try {
      await backing.set(id, { cookie: { originalMaxAge: 60_000 }, count: 1 }, 150);
      await agent.get('/peek').expect(200); // touches with the cookie's maxAge (60 s)
      clock.tick(300);
      expect((await agent.get('/peek').expect(200)).body.count).to.equal(1);
    } finally {
      clock.uninstall();
    }
  });

  it('get, set and destroy also answer as promises: await store.set() waits for the write', async function () {
    await store.set('p1', { cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString() }, n: 7 } as never);
    expect(await backing.get('p1')).to.deep.include({ n: 7 });
    expect(await store.get('p1')).to.deep.include({ n: 7 });
    await store.destroy('p1');
    expect(await store.get('p1')).to.equal(null);
    await expect(store.get('x'.repeat(10_000))).to.be.rejectedWith(/session id/);
  });

  it('get, set and destroy answer through callbacks, with null for a missing session', async function () {
    await call((cb) => store.set('abc', { cookie: { originalMaxAge: 1000 } } as never, cb));
    expect(await call((cb) => store.get('abc', cb as never))).to.have.property('cookie');
    await call((cb) => store.destroy('abc', cb));
    expect(await call((cb) => store.get('abc', cb as never))).to.equal(null);
  });

  it('turns bad ids into errors through the callback, never a throw', async function () {
    await expect(call((cb) => store.get('x'.repeat(10_000), cb as never))).to.be.rejectedWith(/session id/);
    await expect(call((cb) => store.set(42 as never, {} as never, cb))).to.be.rejectedWith(/session id/);
  });

  it("maps the store's down and up to express-session's disconnect and connect", function () {
    const seen: string[] = [];
    store.on('disconnect', () => seen.push('disconnect'));
    store.on('connect', () => seen.push('connect'));
    backing.emit('down', new StoreUnavailableError('x'));
    backing.emit('up');
    expect(seen).to.deep.equal(['disconnect', 'connect']);
  });
});
