import { expect } from 'chai';
import request from 'supertest';
import type { Strategy } from '@scaleout/core';
import { buildApp, FRAMEWORKS, type Framework } from './apps.js';
import { startHttp, type RunningServer } from './http.js';

/** The `name=value` pair of cookie `name` in a response's Set-Cookie headers. */
export function cookieOf(res: { headers: Record<string, unknown> }, name: string): string | undefined {
  const raw = res.headers['set-cookie'];
  const list = Array.isArray(raw) ? (raw as string[]) : typeof raw === 'string' ? [raw] : [];
  const hit = list.find((c) => c.startsWith(`${name}=`) && !c.startsWith(`${name}=;`));
  return hit?.split(';')[0];
}

/**
 * The behaviour every strategy and store must show, in Express and in Koa alike. Stores and
 * strategies call this with their own factory, so switching backends is proven to change nothing.
 */
export function describeSessionBehaviour(label: string, makeStrategy: () => Promise<Strategy>, frameworks: readonly Framework[] = FRAMEWORKS): void {
  for (const framework of frameworks) {
    describe(`${label} through ${framework}`, function () {
      let strategy: Strategy;
      let server: RunningServer;
      let cookieName: string;

      before(async function () {
        strategy = await makeStrategy();
        cookieName = strategy.session.cookieName;
        server = await startHttp(buildApp(framework, strategy));
      });
      after(async function () {
        await server?.close();
        await strategy?.close();
      });

      it('keeps a counter across 20 requests', async function () {
        const agent = request.agent(server.server);
        for (let i = 1; i <= 20; i++) {
          const res = await agent.get('/count').expect(200);
          expect(res.body.count).to.equal(i);
        }
      });

      it('sets an HttpOnly, SameSite=Lax session cookie whose id carries no readable data', async function () {
        const res = await request(server.server).get('/count').expect(200);
        const raw = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${cookieName}=`));
        expect(raw, 'session cookie').to.be.a('string');
        expect(raw).to.match(/HttpOnly/i).and.match(/SameSite=Lax/i);
        expect(decodeURIComponent(raw!.split(';')[0]!.split('=')[1]!)).to.match(/^s:[A-Za-z0-9_-]{24}\.[A-Za-z0-9+/]+$/);
      });

      it('gives a new id on login (regenerate) and the old id no longer loads', async function () {
        const agent = request.agent(server.server);
        const first = await agent.get('/count').expect(200);
        const before = cookieOf(first, cookieName)!;
        const login = await agent.post('/login').expect(200);
        const after = cookieOf(login, cookieName);
        expect(after, 'a new session cookie').to.be.a('string').and.not.equal(before);
        const me = await agent.get('/peek').expect(200);
        expect(me.body.user).to.equal('alice');
        const stale = await request(server.server).get('/peek').set('Cookie', before).expect(200);
        expect(stale.body.count).to.equal(null);
        expect(stale.body.user).to.equal(null);
      });

      it('carries the data to the new id on regenerate({ keep: true }), and the old id dies', async function () {
        const agent = request.agent(server.server);
        await agent.get('/count').expect(200);
        const second = await agent.get('/count').expect(200);
        const before = cookieOf(second, cookieName) ?? cookieOf(await request(server.server).get('/peek'), cookieName);
        const login = await agent.post('/login?keep=1').expect(200);
        const after = cookieOf(login, cookieName);
        expect(after).to.be.a('string').and.not.equal(before);
        const me = await agent.get('/peek').expect(200);
        expect(me.body).to.include({ user: 'alice', count: 2 });
        const stale = await request(server.server).get('/peek').set('Cookie', before!).expect(200);
        expect(stale.body.count).to.equal(null);
      });

      it('removes the session on logout (destroy)', async function () {
        const agent = request.agent(server.server);
        const first = await agent.get('/count').expect(200);
        const sid = cookieOf(first, cookieName)!;
        await agent.post('/logout').expect(200);
        const res = await request(server.server).get('/peek').set('Cookie', sid).expect(200);
        expect(res.body.count).to.equal(null);
      });

      it('stores a 100 KB session value', async function () {
        const agent = request.agent(server.server);
        await agent.put('/big?bytes=102400').expect(200);
        const res = await agent.get('/count').expect(200);
        expect(res.body.count).to.equal(1);
      });

      describe('refuses bad session cookies with a fresh session, never an error', function () {
        const cases: Array<[string, (valid: string) => string]> = [
          ['a wrong signature', (v) => v.replace(/\.[^.]+$/, '.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')],
          ['a truncated value', (v) => v.slice(0, v.length - 10)],
          ['an 8 KB value', (v) => `${v.split('=')[0]}=s%3A${'A'.repeat(8192)}`],
          ['an unsigned id', (v) => `${v.split('=')[0]}=${decodeURIComponent(v.split('=')[1]!).slice(2).split('.')[0]}`],
          ['percent-garbage', (v) => `${v.split('=')[0]}=%E0%A4%A%ZZ`],
          ['a value with quotes and semicolons', (v) => `${v.split('=')[0]}="s:x;y"`],
        ];
        for (const [what, mangle] of cases) {
          it(what, async function () {
            const agent = request.agent(server.server);
            await agent.get('/count').expect(200);
            const second = await agent.get('/count').expect(200);
            expect(second.body.count).to.equal(2);
            const valid = cookieOf(await request(server.server).get('/count'), cookieName)!;
            const res = await request(server.server).get('/count').set('Cookie', mangle(valid)).expect(200);
            expect(res.body.count).to.equal(1);
          });
        }
      });
    });
  }
}
