import type { RequestListener } from 'node:http';
import express from 'express';
import Koa from 'koa';
import type { Strategy } from '@scaleout/core';
import { session as expressSession, regenerate as regenerateExpress, type ScaleoutExpressOptions } from '@scaleout/express';
import { session as koaSession, regenerate as regenerateKoa, type ScaleoutKoaOptions } from '@scaleout/koa';

/** The frameworks every end-to-end suite runs against. */
export const FRAMEWORKS = ['express', 'koa'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

/**
 * The same small app in Express and in Koa, so one suite proves both behave alike:
 * GET /count[?delay=ms] (increments), GET /peek (reads only), POST /login[?keep=1] (regenerate), POST /logout
 * (destroy), GET /set?key=K[&gate=name:n] (sets one key), GET /keys (keys starting with k), PUT /big?bytes=N
 * (a large session value), POST /expire?ms=N (sets the session's lifetime to N ms: Express's
 * `req.session.cookie.maxAge`, Koa's `ctx.session.maxAge`; 0 or less ends it), GET /healthz.
 */
export function buildApp(framework: Framework, strategy: Strategy, options: Record<string, unknown> = {}): RequestListener {
  return framework === 'express' ? expressApp(strategy, options as ScaleoutExpressOptions) : koaApp(strategy, options as ScaleoutKoaOptions);
}

type Sess = Record<string, unknown> & { count?: number; user?: string };

// A barrier for concurrency tests: `?gate=name:n` holds a request (after its session loaded)
// until n requests have reached the gate, so they really overlap instead of running one by one.
const gates = new Map<string, { arrived: number; open: () => void; opened: Promise<void> }>();
function passGate(spec: unknown): Promise<void> {
  if (typeof spec !== 'string' || !spec.includes(':')) return Promise.resolve();
  const [name, n] = spec.split(':');
  let g = gates.get(name!);
  if (!g) {
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    g = { arrived: 0, open, opened };
    gates.set(name!, g);
    setTimeout(open, 5000).unref(); // never hang a test on a miscount
  }
  if (++g.arrived >= Number(n)) {
    g.open();
    gates.delete(name!);
  }
  return g.opened;
}
const pause = (ms: unknown) => new Promise((r) => setTimeout(r, Math.min(Number(ms) || 0, 1000)));

function expressApp(strategy: Strategy, options: ScaleoutExpressOptions): RequestListener {
  const app = express();
  app.get('/healthz', (_req, res) => { res.send('ok'); });
  app.use(expressSession(strategy, options));
  app.get('/count', async (req, res) => {
    const s = req.session as unknown as Sess;
    const seen = s.count ?? 0;
    await pause(req.query.delay);
    s.count = seen + 1;
    res.json({ count: s.count, node: strategy.nodeId, user: s.user ?? null });
  });
  app.get('/peek', (req, res) => {
    const s = req.session as unknown as Sess | undefined;
    res.json({ count: s?.count ?? null, user: s?.user ?? null, hasSession: Boolean(s), node: strategy.nodeId });
  });
  app.post('/login', async (req, res) => {
    await regenerateExpress(req, { keep: req.query.keep === '1' });
    (req.session as unknown as Sess).user = 'alice';
    res.json({ ok: true });
  });
  app.post('/logout', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.json({ ok: true })));
  });
  app.post('/expire', (req, res) => {
    req.session.cookie.maxAge = Number(req.query.ms);
    res.json({ ok: true });
  });
  app.get('/set', async (req, res) => {
    await passGate(req.query.gate);
    (req.session as unknown as Sess)[String(req.query.key)] = 1;
    res.json({ ok: true });
  });
  app.get('/keys', (req, res) => {
    res.json(Object.keys(req.session ?? {}).filter((k) => k.startsWith('k')));
  });
  app.put('/big', (req, res) => {
    (req.session as unknown as Sess).big = 'x'.repeat(Number(req.query.bytes ?? 1000));
    res.json({ ok: true });
  });
  return app as unknown as RequestListener;
}

function koaApp(strategy: Strategy, options: ScaleoutKoaOptions): RequestListener {
  const app = new Koa();
  app.silent = true;
  app.use(async (ctx, next) => {
    if (ctx.path === '/healthz') {
      ctx.body = 'ok';
      return;
    }
    await next();
  });
  app.use(koaSession(strategy, app, options));
  app.use(async (ctx) => {
    const s = ctx.session as unknown as Sess | null;
    if (ctx.method === 'GET' && ctx.path === '/count') {
      const seen = s!.count ?? 0;
      await pause(ctx.query.delay);
      s!.count = seen + 1;
      ctx.body = { count: s!.count, node: strategy.nodeId, user: s!.user ?? null };
    } else if (ctx.method === 'GET' && ctx.path === '/peek') {
      ctx.body = { count: s?.count ?? null, user: s?.user ?? null, hasSession: Boolean(s), node: strategy.nodeId };
    } else if (ctx.method === 'POST' && ctx.path === '/login') {
      await regenerateKoa(ctx, { keep: ctx.query.keep === '1' });
      (ctx.session as unknown as Sess).user = 'alice';
      ctx.body = { ok: true };
    } else if (ctx.method === 'POST' && ctx.path === '/logout') {
      ctx.session = null;
      ctx.body = { ok: true };
    } else if (ctx.method === 'POST' && ctx.path === '/expire') {
      s!.maxAge = Number(ctx.query.ms);
      ctx.body = { ok: true };
    } else if (ctx.method === 'GET' && ctx.path === '/set') {
      await passGate(ctx.query.gate);
      s![String(ctx.query.key)] = 1;
      ctx.body = { ok: true };
    } else if (ctx.method === 'GET' && ctx.path === '/keys') {
      ctx.body = Object.keys(s ?? {}).filter((k) => k.startsWith('k'));
    } else if (ctx.method === 'PUT' && ctx.path === '/big') {
      s!.big = 'x'.repeat(Number(ctx.query.bytes ?? 1000));
      ctx.body = { ok: true };
    } else {
      ctx.status = 404;
    }
  });
  return app.callback();
}
