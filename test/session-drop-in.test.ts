import type { RequestListener } from 'node:http';
import { expect } from 'chai';
import express from 'express';
import Koa from 'koa';
import request from 'supertest';
import { createStrategy, MemoryStore, unsignSessionId, type Strategy } from '@scaleout/core';
import { session as expressSession, type ScaleoutExpressOptions } from '@scaleout/express';
import { session as koaSession, type ScaleoutKoaOptions } from '@scaleout/koa';

// What an app moving from express-session or koa-session relies on, each in the project's own
// words: the options they document, and the session API they give handlers.

const SECRET = 'drop-in-secret';

function setCookies(res: request.Response): string[] {
  return ([] as string[]).concat(res.headers['set-cookie'] ?? []);
}
function cookieLine(res: request.Response, name: string): string | undefined {
  return setCookies(res).find((l) => l.startsWith(`${name}=`));
}
function expiresIn(line: string): number {
  return Date.parse(/expires=([^;]+)/i.exec(line)![1]!) - Date.now();
}
function idIn(line: string): string {
  return unsignSessionId(decodeURIComponent(line.slice(line.indexOf('=') + 1).split(';')[0]!), [SECRET])!;
}

describe('drop-in for express-session: its options and req.session API', function () {
  let strategy: Strategy;
  beforeEach(async () => {
    strategy = await createStrategy({ strategy: 'sticky', nodeId: 'n1', secret: SECRET });
  });
  afterEach(() => strategy.close());

  function app(options: ScaleoutExpressOptions, route: (req: express.Request, res: express.Response) => void): RequestListener {
    const a = express();
    a.use(expressSession(strategy, options));
    a.get('/', route);
    return a as unknown as RequestListener;
  }
  const writes = (req: express.Request, res: express.Response) => {
    (req.session as unknown as Record<string, number>).n = 1;
    res.send('ok');
  };

  it('honours the deprecated `key` alias of `name`, and `name` wins when both are given', async () => {
    expect(cookieLine(await request(app({ key: 'legacy.sid' }, writes)).get('/'), 'legacy.sid')).to.be.a('string');
    const both = await request(app({ key: 'legacy.sid', name: 'new.sid' }, writes)).get('/');
    expect(cookieLine(both, 'new.sid')).to.be.a('string');
    expect(cookieLine(both, 'legacy.sid')).to.equal(undefined);
  });

  it('takes `cookie` as a function of the request (express-session 1.19)', async () => {
    const a = app({ cookie: (req) => ({ maxAge: req.headers['x-remember'] ? 7 * 86_400_000 : 60_000, path: '/' }) }, writes);
    const short = cookieLine(await request(a).get('/'), 'sid')!;
    const long = cookieLine(await request(a).get('/').set('X-Remember', '1'), 'sid')!;
    expect(expiresIn(short)).to.be.within(55_000, 61_000);
    expect(expiresIn(long)).to.be.above(6 * 86_400_000);
  });

  it('reads a cookie options object on each request, so a later change takes effect', async () => {
    const cookie = { maxAge: 60_000 };
    const a = app({ cookie }, writes);
    expect(expiresIn(cookieLine(await request(a).get('/'), 'sid')!)).to.be.below(61_000);
    cookie.maxAge = 3_600_000;
    expect(expiresIn(cookieLine(await request(a).get('/'), 'sid')!)).to.be.above(3_000_000);
  });

  it('req.session.touch() moves the stored cookie expiry, not only the one sent', async () => {
    const a = express();
    a.use(expressSession(strategy, { rolling: false, touchAfter: 0 }));
    a.get('/w', writes);
    a.get('/touch', (req, res) => {
      req.session.touch();
      res.send('ok');
    });
    const line = cookieLine(await request(a).get('/w'), 'sid')!;
    const id = idIn(line);
    const before = Date.parse(((await strategy.store.get(id))!.cookie as { expires: string }).expires);
    await new Promise((r) => setTimeout(r, 30));
    await request(a).get('/touch').set('Cookie', line.split(';')[0]!).expect(200);
    const after = Date.parse(((await strategy.store.get(id))!.cookie as { expires: string }).expires);
    expect(after).to.be.above(before);
  });

  it('regenerate, reload, save and destroy take callbacks; req.session.id is req.sessionID', async () => {
    const a = express();
    a.use(expressSession(strategy));
    a.get('/', (req, res, next) => {
      const s = req.session as unknown as Record<string, unknown> & typeof req.session;
      expect(s.id).to.equal(req.sessionID);
      s.a = 1;
      s.save((err) => {
        if (err) return next(err);
        s.a = 2;
        s.reload((err2) => {
          if (err2) return next(err2);
          const afterReload = (req.session as unknown as Record<string, unknown>).a;
          const old = req.sessionID;
          req.session.regenerate((err3) => {
            if (err3) return next(err3);
            const fresh = req.sessionID;
            res.json({ afterReload, changed: fresh !== old, empty: (req.session as unknown as Record<string, unknown>).a === undefined, old });
          });
        });
      });
    });
    const res = await request(a).get('/').expect(200);
    expect(res.body).to.include({ afterReload: 1, changed: true, empty: true });
    expect(await strategy.store.get(res.body.old)).to.equal(undefined);
  });

  it('`unset: "destroy"` removes the stored session when the handler deletes req.session; "keep" leaves it', async () => {
    for (const unset of ['destroy', 'keep'] as const) {
      const a = express();
      a.use(expressSession(strategy, { unset }));
      a.get('/w', writes);
      a.get('/unset', (req, res) => {
        delete (req as { session?: unknown }).session;
        res.send('ok');
      });
      const line = cookieLine(await request(a).get('/w'), 'sid')!;
      await request(a).get('/unset').set('Cookie', line.split(';')[0]!).expect(200);
      expect(await strategy.store.get(idIn(line)), unset).to.satisfy((v: unknown) => (unset === 'destroy' ? v === undefined : v !== undefined));
    }
  });

  it('adds no listener to the shared store per binding: eleven bindings give no MaxListenersExceededWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const before = strategy.store.listenerCount('down') + strategy.store.listenerCount('up');
    for (let i = 0; i < 11; i++) expressSession(strategy);
    for (let i = 0; i < 11; i++) koaSession(strategy, new Koa());
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    expect(strategy.store.listenerCount('down') + strategy.store.listenerCount('up')).to.equal(before);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).to.deep.equal([]);
  });

  it('keeps an express-session store the app passes (`store`), writing through its callbacks', async () => {
    const { default: es } = await import('express-session');
    const theirs = new es.MemoryStore();
    const a = express();
    a.use(expressSession(strategy, { store: theirs }));
    a.get('/', writes);
    const line = cookieLine(await request(a).get('/').expect(200), 'sid')!;
    const stored = await new Promise<unknown>((resolve, reject) => theirs.get(idIn(line), (err, s) => (err ? reject(err as Error) : resolve(s))));
    expect(stored).to.deep.include({ n: 1 });
    expect(await strategy.store.size()).to.equal(0);
  });

  it('on the in-process store, res.end() has sent the head when it returns: a header set after it throws, as with express-session', async () => {
    let after: unknown;
    const a = app({ saveUninitialized: true }, (req, res) => {
      res.end();
      try {
        res.setHeader('Content-Length', '3');
      } catch (err) {
        after = err;
      }
    });
    const res = await request(a).get('/').expect(200);
    expect(cookieLine(res, 'sid')).to.be.a('string');
    expect(res.headers['content-length']).to.equal('0');
    expect(after).to.have.property('code', 'ERR_HTTP_HEADERS_SENT');
  });

  it('refuses a bad option with an error naming it', () => {
    expect(() => expressSession(strategy, { name: 'bad name;' })).to.throw(/name/);
    expect(() => expressSession(strategy, { unset: 'drop' as never })).to.throw(/unset/);
    expect(() => expressSession(strategy, { rolling: 'yes' as never })).to.throw(/rolling/);
    expect(() => expressSession(strategy, { secret: [] })).to.throw(/secret/);
  });
});

describe('drop-in for koa-session: its options and ctx.session API', function () {
  let strategy: Strategy;
  beforeEach(async () => {
    strategy = await createStrategy({ strategy: 'sticky', nodeId: 'n1', secret: SECRET });
  });
  afterEach(() => strategy.close());

  function app(options: ScaleoutKoaOptions, handler: (ctx: Koa.Context) => void | Promise<void>): RequestListener {
    const a = new Koa();
    a.silent = true;
    a.use(koaSession(strategy, a, options));
    a.use(async (ctx) => {
      await handler(ctx);
      ctx.body ??= 'ok';
    });
    return a.callback();
  }
  const writes = (ctx: Koa.Context) => {
    (ctx.session as unknown as Record<string, number>).n = 1;
  };

  it("gives the cookie koa-session's maxAge: a number, 'session', and ctx.session.maxAge set in a handler", async () => {
    expect(expiresIn(cookieLine(await request(app({ maxAge: 86_400_000 }, writes)).get('/'), 'sid')!)).to.be.above(86_000_000);
    expect(cookieLine(await request(app({ maxAge: 'session' }, writes)).get('/'), 'sid')).to.not.match(/expires=/i);
    const set = app({}, (ctx) => {
      writes(ctx);
      ctx.session!.maxAge = 5000;
    });
    const line = cookieLine(await request(set).get('/'), 'sid')!;
    expect(expiresIn(line)).to.be.within(3000, 5100);
    expect(((await strategy.store.get(idIn(line)))!.cookie as { originalMaxAge: number }).originalMaxAge).to.equal(5000);
  });

  it("puts koa-session's `prefix` before every generated id", async () => {
    const line = cookieLine(await request(app({ prefix: 'tenant-a:' }, writes)).get('/'), 'sid')!;
    expect(idIn(line)).to.match(/^tenant-a:/);
  });

  it('ctx.session = null destroys the session and clears its cookie; isNew and populated say what they say', async () => {
    const seen: unknown[] = [];
    const a = app({}, (ctx) => {
      if (ctx.path === '/w') {
        seen.push({ isNew: ctx.session!.isNew, populated: ctx.session!.populated });
        writes(ctx);
      } else ctx.session = null;
    });
    const line = cookieLine(await request(a).get('/w'), 'sid')!;
    await request(a).get('/w').set('Cookie', line.split(';')[0]!);
    expect(seen).to.deep.equal([
      { isNew: true, populated: false },
      { isNew: false, populated: true },
    ]);
    const out = await request(a).get('/out').set('Cookie', line.split(';')[0]!);
    expect(expiresIn(cookieLine(out, 'sid')!)).to.be.below(0);
    expect(await strategy.store.get(idIn(line))).to.equal(undefined);
  });

  it('autoCommit: false saves only on manuallyCommit(); save() forces an unchanged session out', async () => {
    const manual = app({ autoCommit: false }, async (ctx) => {
      writes(ctx);
      if (ctx.query.commit) await ctx.session!.manuallyCommit();
    });
    expect(cookieLine(await request(manual).get('/'), 'sid')).to.equal(undefined);
    expect(await strategy.store.size()).to.equal(0);
    const line = cookieLine(await request(manual).get('/?commit=1'), 'sid')!;
    expect(await strategy.store.get(idIn(line))).to.deep.include({ n: 1 });
    const forced = app({ rolling: false }, (ctx) => {
      if (ctx.query.save) void ctx.session!.save();
    });
    expect(cookieLine(await request(forced).get('/'), 'sid')).to.equal(undefined);
    expect(cookieLine(await request(forced).get('/?save=1'), 'sid')).to.be.a('string');
  });

  it('regenerate() keeps the data under a new id and destroys the old one', async () => {
    const a = app({}, async (ctx) => {
      if (ctx.path === '/w') return writes(ctx);
      await ctx.session!.regenerate();
    });
    const first = cookieLine(await request(a).get('/w'), 'sid')!;
    const second = cookieLine(await request(a).get('/r').set('Cookie', first.split(';')[0]!), 'sid')!;
    expect(idIn(second)).to.not.equal(idIn(first));
    expect(await strategy.store.get(idIn(first))).to.equal(undefined);
    expect(await strategy.store.get(idIn(second))).to.deep.include({ n: 1 });
  });

  it('a stored session written by koa-session (`_expire`, `_maxAge`) loads with its lifetime, and an expired one does not', async () => {
    const store = strategy.store as MemoryStore;
    await store.set('legacy-1', { n: 5, _expire: Date.now() + 60_000, _maxAge: 60_000 }, 60_000);
    await store.set('legacy-2', { n: 6, _expire: Date.now() - 1000, _maxAge: 60_000 }, 60_000);
    const { signSessionId } = await import('@scaleout/core');
    const a = app({}, (ctx) => {
      ctx.body = { n: (ctx.session as unknown as { n?: number }).n ?? null, maxAge: ctx.session!.maxAge };
    });
    const live = await request(a).get('/').set('Cookie', `sid=${encodeURIComponent(signSessionId('legacy-1', [SECRET]))}`);
    expect(live.body).to.deep.equal({ n: 5, maxAge: 60_000 });
    const gone = await request(a).get('/').set('Cookie', `sid=${encodeURIComponent(signSessionId('legacy-2', [SECRET]))}`);
    expect(gone.body.n).to.equal(null);
  });
});
