/**
 * The apps that session benchmarks serve, one factory per case, for `startServerChild()`
 * (`export: '<factory name>'`). Every app answers `GET /count`: it reads the session's counter,
 * adds one and returns `{ "count": n }` as JSON — a read AND a write of the session on each
 * request. Within one framework every case runs the very same handler; only the session
 * middleware differs.
 *
 * The Express apps also answer `GET /set?key=K` (sets the session key `kK` to a new value) and `GET /keys` (how
 * many such keys the session holds), for the hot-session load of the store benchmark.
 *
 * Express: `bareExpress` (no session), `expressSessionApp` (express-session with its own
 * MemoryStore, or a given store), `scaleoutExpressApp` (`@scaleout/express` over
 * `createStrategy(config)`, memory store unless `config` says otherwise).
 *
 * Koa: `bareKoa`, `koaSessionCookieApp` (koa-session's default: the whole session in a signed
 * cookie, no store), `koaSessionMemoryApp` (koa-session with a minimal in-memory external store
 * that stores JSON and checks expiry on read, as express-session's MemoryStore does: the fair
 * anchor for a store-backed session), `scaleoutKoaApp` (`@scaleout/koa`).
 *
 * Session settings match across cases: 30-minute sliding lifetime, HttpOnly, SameSite=Lax,
 * no session saved until it is modified. All factories take {@link SessionAppOptions}.
 */
import type { RequestListener } from 'node:http';
import express from 'express';
import expressSession from 'express-session';
import Koa from 'koa';
import createKoaSession from 'koa-session';
import { Registry } from 'prom-client';
import { createStrategy, metrics, type ScaleoutConfigInput, type Strategy } from '@scaleout/core';
import { session as scaleoutExpress } from '@scaleout/express';
import { session as scaleoutKoa } from '@scaleout/koa';
import type { ServedApp } from './child.js';

/** Options of every factory here. */
export interface SessionAppOptions {
  /** Signs cookies. @default "bench-secret-0123456789abcdef" */
  secret?: string;
  /** Session lifetime, ms. @default 1800000 */
  ttlMs?: number;
  /** For the scaleout apps: the config given to `createStrategy` (merged over `{ strategy: 'store', secret }`). */
  config?: Partial<ScaleoutConfigInput>;
  /** For the scaleout apps: register `metrics()` on a registry of their own (the session layer's observer is on). */
  metrics?: boolean;
}

const DEFAULT_SECRET = 'bench-secret-0123456789abcdef';
const DEFAULT_TTL = 30 * 60_000;

type Counter = { count?: number };

/** The Express app of every Express case: `middleware` (if any), then the routes above. Others may add routes to it. */
export function expressWith(middleware?: express.RequestHandler): express.Express {
  const app = express();
  if (middleware) app.use(middleware);
  let bare = 0;
  app.get('/count', (req, res) => {
    const s = req.session as unknown as Counter | undefined;
    if (!s) {
      res.json({ count: ++bare });
      return;
    }
    s.count = (s.count ?? 0) + 1;
    res.json({ count: s.count });
  });
  // The hot-session load: each request changes one key (`k` + key) of the session to a new value.
  let writes = 0;
  app.get('/set', (req, res) => {
    (req.session as unknown as Record<string, unknown>)[`k${String(req.query.key)}`] = ++writes;
    res.json({ ok: true });
  });
  app.get('/keys', (req, res) => {
    res.json({ keys: Object.keys(req.session ?? {}).filter((k) => k.startsWith('k')).length });
  });
  return app;
}

function koaWith(app: Koa, middleware?: Koa.Middleware): RequestListener {
  app.silent = true;
  if (middleware) app.use(middleware);
  let bare = 0;
  app.use(async (ctx) => {
    if (ctx.method !== 'GET' || ctx.path !== '/count') {
      ctx.status = 404;
      return;
    }
    const s = middleware ? (ctx.session as unknown as Counter | null) : null;
    if (!s) {
      ctx.body = { count: ++bare };
      return;
    }
    s.count = (s.count ?? 0) + 1;
    ctx.body = { count: s.count };
  });
  return app.callback();
}

/** Express with no session: the ceiling. */
export function bareExpress(): ServedApp {
  return expressWith() as unknown as RequestListener;
}

/** express-session with its MemoryStore (or `store`, for callers that pass one in-process). */
export function expressSessionApp(options: SessionAppOptions & { store?: expressSession.Store } = {}): ServedApp {
  const ttl = options.ttlMs ?? DEFAULT_TTL;
  const store = options.store ?? new expressSession.MemoryStore();
  const mw = expressSession({
    secret: options.secret ?? DEFAULT_SECRET,
    name: 'sid',
    store,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { maxAge: ttl, httpOnly: true, sameSite: 'lax', path: '/' },
  });
  return expressWith(mw) as unknown as RequestListener;
}

function scaleoutConfig(options: SessionAppOptions): ScaleoutConfigInput {
  return {
    strategy: 'store',
    secret: options.secret ?? DEFAULT_SECRET,
    store: { type: 'memory' },
    session: { ttl: options.ttlMs ?? DEFAULT_TTL },
    ...options.config,
  } as ScaleoutConfigInput;
}

/** `@scaleout/express` over `createStrategy()`, memory store by default. */
async function scaleoutStrategy(options: SessionAppOptions): Promise<Strategy> {
  const strategy = await createStrategy(scaleoutConfig(options));
  if (options.metrics) metrics(new Registry(), { strategy });
  return strategy;
}

export async function scaleoutExpressApp(options: SessionAppOptions = {}): Promise<ServedApp> {
  const strategy = await scaleoutStrategy(options);
  return { listener: expressWith(scaleoutExpress(strategy) as express.RequestHandler) as unknown as RequestListener, close: () => strategy.close() };
}

/** Koa with no session. */
export function bareKoa(): ServedApp {
  return koaWith(new Koa());
}

function koaSessionOptions(options: SessionAppOptions): Record<string, unknown> {
  return { key: 'sid', maxAge: options.ttlMs ?? DEFAULT_TTL, httpOnly: true, sameSite: 'lax', signed: true };
}

/** koa-session's default: the session itself in a signed cookie. */
export function koaSessionCookieApp(options: SessionAppOptions = {}): ServedApp {
  const app = new Koa();
  app.keys = [options.secret ?? DEFAULT_SECRET];
  return koaWith(app, createKoaSession(koaSessionOptions(options) as Parameters<typeof createKoaSession>[0], app) as Koa.Middleware);
}

interface Held {
  json: string;
  expiresAt: number;
}

/**
 * The smallest honest external store for koa-session: JSON copies (so a request never mutates
 * stored state), expiry checked on read — what express-session's MemoryStore does.
 */
export function mapStore() {
  const map = new Map<string, Held>();
  return {
    size: () => map.size,
    async get(key: string) {
      const e = map.get(key);
      if (!e) return undefined;
      if (e.expiresAt <= Date.now()) {
        map.delete(key);
        return undefined;
      }
      return JSON.parse(e.json) as Record<string, unknown>;
    },
    async set(key: string, sess: Record<string, unknown>, maxAge: number | 'session' | undefined) {
      const ttl = typeof maxAge === 'number' ? maxAge : DEFAULT_TTL;
      map.set(key, { json: JSON.stringify(sess), expiresAt: Date.now() + ttl });
    },
    async destroy(key: string) {
      map.delete(key);
    },
  };
}

/** koa-session with an in-memory external store (the fair anchor for `@scaleout/koa`). */
export function koaSessionMemoryApp(options: SessionAppOptions = {}): ServedApp {
  const app = new Koa();
  app.keys = [options.secret ?? DEFAULT_SECRET];
  const opts = { ...koaSessionOptions(options), store: mapStore() };
  return koaWith(app, createKoaSession(opts as Parameters<typeof createKoaSession>[0], app) as Koa.Middleware);
}

/** `@scaleout/koa` over `createStrategy()`, memory store by default. */
export async function scaleoutKoaApp(options: SessionAppOptions = {}): Promise<ServedApp> {
  const strategy = await scaleoutStrategy(options);
  const app = new Koa();
  return { listener: koaWith(app, scaleoutKoa(strategy, app)), close: () => strategy.close() };
}
