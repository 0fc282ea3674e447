import express from 'express';
import Koa from 'koa';
import type { Strategy } from '@scaleout/core';
import { startHttp, type RunningServer } from './http.js';

// mocha loads spec files through require(), so a static import here would give the HTTP layers a
// CommonJS copy of @scaleout/core, while createStrategy() loads @scaleout/redis and
// @scaleout/hazelcast with import() and so the ES module copy: their errors would then fail the
// layers' `instanceof` checks. Loading the layers with import() too keeps one copy, as in an app.
const layers = async () => ({ express: await import('@scaleout/express'), koa: await import('@scaleout/koa') });

/**
 * The app every store fault test drives: `POST /write?n=<n>` stores `n` in the session and
 * answers 200 only once the save is done; `GET /read` answers the session's `n` (or null);
 * `POST /logout` destroys the session.
 */
export async function startSessionApp(strategy: Strategy, framework: 'express' | 'koa' = 'express'): Promise<RunningServer> {
  const { express: expressLayer, koa: koaLayer } = await layers();
  if (framework === 'express') {
    const app = express();
    app.use(expressLayer.session(strategy));
    app.post('/write', (req, res) => {
      (req.session as unknown as Record<string, unknown>).n = Number(req.query.n);
      res.json({ n: Number(req.query.n) });
    });
    app.get('/read', (req, res) => {
      res.json({ n: (req.session as unknown as Record<string, unknown> | undefined)?.n ?? null });
    });
    app.post('/logout', (req, res, next) => {
      req.session.destroy((err) => (err ? next(err) : res.json({ out: true })));
    });
    return startHttp(app);
  }
  const app = new Koa();
  app.use(koaLayer.session(strategy, app));
  app.use(async (ctx) => {
    const s = ctx.session as Record<string, unknown> | null;
    if (ctx.method === 'POST' && ctx.path === '/write') {
      s!.n = Number(ctx.query.n);
      ctx.body = { n: s!.n };
    } else if (ctx.path === '/read') {
      ctx.body = { n: s?.n ?? null };
    } else if (ctx.method === 'POST' && ctx.path === '/logout') {
      ctx.session = null;
      ctx.body = { out: true };
    } else ctx.status = 404;
  });
  return startHttp(app.callback());
}

/** One virtual client's view: its session cookie and the last write the server acknowledged. */
export interface LoadClient {
  cookie: string | undefined;
  lastAcked: number | undefined;
}

/** What a write load saw. Times are `Date.now()` values. */
export interface LoadReport {
  clients: LoadClient[];
  ok: number;
  unavailable: number;
  /** Statuses other than 200 and 503, and requests that did not answer within `hangMs`. */
  unexpected: string[];
  /** Slowest answer, in ms. */
  slowestMs: number;
  firstFailureAt: number | undefined;
  lastFailureAt: number | undefined;
  /** From the first failed request to the first success after the last failure, in ms. */
  outageMs: number;
}

export interface WriteLoadOptions {
  /** Virtual clients, each with its own session. @default 8 */
  clients?: number;
  /** A request not answered within this long counts as a hang. @default 5000 */
  hangMs?: number;
  /** Pause between one client's requests, in ms. @default 5 */
  pauseMs?: number;
}

function sessionCookie(res: Response): string | undefined {
  const header = res.headers.getSetCookie().find((c) => !c.startsWith('route='));
  return header?.split(';')[0];
}

/**
 * Keeps `clients` virtual clients writing to their sessions through the app at `baseUrl`
 * until `stop()`, recording every acknowledged write, every 503 and every hang.
 */
export function startWriteLoad(baseUrl: string, options: WriteLoadOptions = {}): { stop(): Promise<LoadReport>; report: LoadReport } {
  const { clients: count = 8, hangMs = 5000, pauseMs = 5 } = options;
  const report: LoadReport = {
    clients: Array.from({ length: count }, () => ({ cookie: undefined, lastAcked: undefined })),
    ok: 0,
    unavailable: 0,
    unexpected: [],
    slowestMs: 0,
    firstFailureAt: undefined,
    lastFailureAt: undefined,
    outageMs: 0,
  };
  let running = true;
  let recoveredAt: number | undefined;
  let n = 0;
  const loops = report.clients.map(async (client) => {
    while (running) {
      const value = ++n;
      const started = Date.now();
      try {
        const res = await fetch(`${baseUrl}/write?n=${value}`, {
          method: 'POST',
          headers: client.cookie ? { cookie: client.cookie } : {},
          signal: AbortSignal.timeout(hangMs),
        });
        await res.arrayBuffer();
        report.slowestMs = Math.max(report.slowestMs, Date.now() - started);
        if (res.status === 200) {
          report.ok++;
          client.cookie = sessionCookie(res) ?? client.cookie;
          client.lastAcked = value;
          if (report.lastFailureAt !== undefined && (recoveredAt === undefined || recoveredAt < report.lastFailureAt)) recoveredAt = Date.now();
        } else if (res.status === 503) {
          report.unavailable++;
          report.firstFailureAt ??= started;
          report.lastFailureAt = Date.now();
        } else {
          report.unexpected.push(`status ${res.status}`);
        }
      } catch (err) {
        report.unexpected.push(`${(err as Error).name} after ${Date.now() - started} ms`);
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    report,
    async stop() {
      running = false;
      await Promise.all(loops);
      if (report.firstFailureAt !== undefined) report.outageMs = (recoveredAt ?? Date.now()) - report.firstFailureAt;
      return report;
    },
  };
}

/**
 * Reads every client's session back; returns the clients whose acknowledged write is missing.
 * A 503 is retried (for up to `retryMs`): an unavailable store has not lost anything yet.
 */
export async function lostWrites(baseUrl: string, clients: LoadClient[], retryMs = 10_000): Promise<string[]> {
  const lost: string[] = [];
  const deadline = Date.now() + retryMs;
  for (const [i, client] of clients.entries()) {
    if (client.lastAcked === undefined) continue;
    for (;;) {
      const res = await fetch(`${baseUrl}/read`, { headers: { cookie: client.cookie! } });
      const text = await res.text();
      if (res.status === 503 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const n = res.status === 200 ? (JSON.parse(text) as { n: number | null }).n : null;
      // A later write that got a 503 may still have landed, so more than acknowledged is fine.
      if (n === null || n < client.lastAcked) lost.push(`client ${i}: acknowledged ${client.lastAcked}, read ${res.status} ${text}`);
      break;
    }
  }
  return lost;
}
