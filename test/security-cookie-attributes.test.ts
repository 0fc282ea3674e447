import type { RequestListener } from 'node:http';
import { expect } from 'chai';
import express from 'express';
import Koa from 'koa';
import request from 'supertest';
import { createStrategy, type ScaleoutConfigInput, type Strategy } from '@scaleout/core';
import { session as expressSession } from '@scaleout/express';
import { session as koaSession } from '@scaleout/koa';
import { FRAMEWORKS, type Framework } from './support/apps.js';

// The cookie attributes are the browser's half of session security: HttpOnly keeps scripts
// (XSS) away from the id, SameSite=Lax keeps cross-site POSTs from carrying it, Secure keeps it
// off plain HTTP. Behind a TLS terminator the app sees plain HTTP, so `secure: "auto"` must
// follow X-Forwarded-Proto from a trusted proxy only (Express `trust proxy`, Koa `app.proxy`).

/** An app that writes to its session on every request, with or without trusting the proxy in front. */
function app(framework: Framework, strategy: Strategy, trustProxy: boolean): RequestListener {
  if (framework === 'express') {
    const a = express();
    if (trustProxy) a.set('trust proxy', 'loopback');
    a.use(expressSession(strategy));
    a.get('/', (req, res) => {
      (req.session as unknown as Record<string, number>).n = 1;
      res.send('ok');
    });
    return a as unknown as RequestListener;
  }
  const a = new Koa();
  a.proxy = trustProxy;
  a.silent = true;
  a.use(koaSession(strategy, a));
  a.use((ctx) => {
    (ctx.session as unknown as Record<string, number>).n = 1;
    ctx.body = 'ok';
  });
  return a.callback();
}

/** The Set-Cookie line of cookie `name`, lower-cased for attribute checks. */
function setCookie(res: request.Response, name: string): string | undefined {
  return ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${name}=`))?.toLowerCase();
}

describe('security: cookie attributes', function () {
  const strategies: Strategy[] = [];
  const make = async (over: Partial<ScaleoutConfigInput> = {}) => {
    const s = await createStrategy({ secret: 'attr-secret', strategy: 'sticky', nodeId: 'attr-node-7', ...over } as ScaleoutConfigInput);
    strategies.push(s);
    return s;
  };
  after(async () => {
    await Promise.all(strategies.map((s) => s.close()));
  });

  for (const framework of FRAMEWORKS) {
    describe(framework, function () {
      it('sets HttpOnly, SameSite=Lax, Path=/ and no Secure on plain HTTP; the route cookie names no node', async function () {
        const s = await make();
        const res = await request(app(framework, s, false)).get('/').expect(200);
        for (const name of ['sid', 'route']) {
          const c = setCookie(res, name);
          expect(c, name).to.be.a('string');
          expect(c).to.match(/;\s*httponly/).and.match(/;\s*samesite=lax/).and.match(/;\s*path=\//);
          expect(c).to.not.match(/;\s*secure/);
        }
        const route = setCookie(res, 'route')!;
        expect(route).to.not.include('attr-node-7');
        expect(route.split(';')[0]).to.match(/^route=[a-z0-9_-]{22}$/);
      });

      it('adds Secure behind a trusted TLS terminator (X-Forwarded-Proto: https), and only when trusted', async function () {
        const s = await make();
        const trusted = await request(app(framework, s, true)).get('/').set('X-Forwarded-Proto', 'https').expect(200);
        for (const name of ['sid', 'route']) expect(setCookie(trusted, name), name).to.match(/;\s*secure/);
        const untrusted = await request(app(framework, s, false)).get('/').set('X-Forwarded-Proto', 'https').expect(200);
        for (const name of ['sid', 'route']) expect(setCookie(untrusted, name), name).to.not.match(/;\s*secure/);
      });

      it('with session.secure true, a request that is not HTTPS gets no 500 and leaves no session in the store that its client can never present', async function () {
        const s = await make({ strategy: 'store', session: { secure: true } });
        for (let i = 0; i < 5; i++) {
          const res = await request(app(framework, s, false)).get('/');
          expect(res.status, 'status of a plain-HTTP request with session.secure true').to.not.equal(500);
          if (setCookie(res, 'sid') === undefined) continue;
          expect(setCookie(res, 'sid')).to.match(/;\s*secure/);
        }
        expect(await s.store.size(), 'sessions stored whose cookie was never sent').to.equal(0);
      });
    });
  }
});
