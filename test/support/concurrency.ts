import { expect } from 'chai';
import request from 'supertest';
import type { Strategy } from '@scaleout/core';
import { buildApp, FRAMEWORKS, type Framework } from './apps.js';
import { startHttp, type RunningServer } from './http.js';
import { cookieOf } from './session-behaviour.js';

let gateSeq = 0;
/** A fresh barrier name for the test apps' `gate` parameter. */
export const gate = () => `g${++gateSeq}-${process.pid}`;

/** Fires `n` requests at once with one session cookie and waits for all of them. */
export async function burst(server: RunningServer, cookie: string, paths: string[]): Promise<number[]> {
  const results = await Promise.all(paths.map((p) => request(server.server).get(p).set('Cookie', cookie)));
  return results.map((r) => r.status);
}

/**
 * The lost-update guarantees, for any strategy whose store can patch (and lock): 100
 * concurrent requests of one session that each set their own key all survive; saves that race
 * a logout do not bring the session back; with `lock: true`, 100 concurrent increments of one
 * key end at exactly 100.
 */
export function describeConcurrency(
  label: string,
  makeStrategy: () => Promise<Strategy>,
  options: { frameworks?: readonly Framework[]; lock?: boolean } = {},
): void {
  const { frameworks = FRAMEWORKS, lock = true } = options;
  for (const framework of frameworks) {
    describe(`${label}: concurrent requests of one session through ${framework}`, function () {
      let strategy: Strategy;
      const servers: RunningServer[] = [];
      before(async function () {
        strategy = await makeStrategy();
      });
      after(async function () {
        await Promise.all(servers.map((s) => s.close()));
        await strategy?.close();
      });
      async function serve(options: Record<string, unknown> = {}): Promise<RunningServer> {
        const s = await startHttp(buildApp(framework, strategy, options));
        servers.push(s);
        return s;
      }

      it('keeps all 100 keys when 100 concurrent requests each set their own', async function () {
        const server = await serve();
        const cookie = cookieOf(await request(server.server).get('/count').expect(200), strategy.session.cookieName)!;
        const g = gate();
        const statuses = await burst(server, cookie, Array.from({ length: 100 }, (_, i) => `/set?key=k${i}&gate=${g}:100`));
        expect(statuses.filter((s) => s !== 200), 'non-200 answers').to.deep.equal([]);
        const keys = (await request(server.server).get('/keys').set('Cookie', cookie).expect(200)).body as string[];
        expect(keys.length, 'keys present after 100 concurrent writes').to.equal(100);
      });

      it('a save racing a logout (destroy) does not bring the session back', async function () {
        const server = await serve();
        const cookie = cookieOf(await request(server.server).get('/count').expect(200), strategy.session.cookieName)!;
        const id = decodeURIComponent(cookie.split('=')[1]!).slice(2).split('.')[0]!;
        // Twenty requests load the session and save it 300 ms later; the logout lands between.
        const saves = burst(server, cookie, Array.from({ length: 20 }, () => '/count?delay=300'));
        await new Promise((r) => setTimeout(r, 100));
        await request(server.server).post('/logout').set('Cookie', cookie).expect(200);
        const statuses = await saves;
        expect(statuses.filter((s) => s !== 200), 'non-200 answers').to.deep.equal([]);
        expect(await strategy.store.get(id), 'the destroyed session').to.equal(undefined);
        const left: string[] = [];
        for await (const live of strategy.store.ids()) if (live === id) left.push(live);
        expect(left, 'the destroyed session, even in part').to.deep.equal([]);
        expect((await request(server.server).get('/peek').set('Cookie', cookie).expect(200)).body.count).to.equal(null);
      });

      it('loses increments without a lock (the control: the requests really overlap)', async function () {
        const server = await serve();
        const cookie = cookieOf(await request(server.server).get('/count').expect(200), strategy.session.cookieName)!;
        await burst(server, cookie, Array.from({ length: 20 }, () => '/count?delay=20'));
        const res = await request(server.server).get('/peek').set('Cookie', cookie).expect(200);
        expect(res.body.count).to.be.below(21);
      });

      if (!lock) {
        it('refuses lock: true at start-up with a ConfigError naming the option', async function () {
          expect(() => buildApp(framework, strategy, { lock: true })).to.throw(/lock/).with.property('code', 'ERR_SCALEOUT_CONFIG');
        });
        return;
      }

      it('counts exactly 100 for 100 concurrent increments with lock: true', async function () {
        const server = await serve({ lock: { ttl: '10s', wait: '20s' } });
        const cookie = cookieOf(await request(server.server).get('/count').expect(200), strategy.session.cookieName)!;
        const statuses = await burst(server, cookie, Array.from({ length: 100 }, () => '/count?delay=2'));
        expect(statuses.filter((s) => s !== 200), 'non-200 answers').to.deep.equal([]);
        const res = await request(server.server).get('/peek').set('Cookie', cookie).expect(200);
        expect(res.body.count).to.equal(101);
      });

      it('moves on once a dead holder’s lock expires, and times out with a coded 503 before that', async function () {
        const server = await serve({ lock: { ttl: '5s', wait: '200ms' } });
        const cookie = cookieOf(await request(server.server).get('/count').expect(200), strategy.session.cookieName)!;
        const id = decodeURIComponent(cookie.split('=')[1]!).slice(2).split('.')[0]!;
        // A holder that took the lock for 1.5 s and died without releasing it.
        await strategy.store.lock!(id, { ttlMs: 1500, waitMs: 1000 });
        const blocked = await request(server.server).get('/count').set('Cookie', cookie);
        expect(blocked.status).to.equal(503);
        expect(blocked.body.error).to.equal('ERR_SCALEOUT_LOCK_TIMEOUT');
        await new Promise((r) => setTimeout(r, 1600));
        const after = await request(server.server).get('/count').set('Cookie', cookie).expect(200);
        expect(after.body.count).to.equal(2);
      });
    });
  }
}
