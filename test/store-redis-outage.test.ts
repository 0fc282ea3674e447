import { expect } from 'chai';
import { createStrategy, type Strategy } from '@scaleout/core';
import { eventually, type RedisServer, startRedis } from '@scaleout/harness';
import { startSessionApp } from './support/write-load.js';
import type { RunningServer } from './support/http.js';

/** One request: status, body and how long it took. */
async function timed(url: string, init: RequestInit = {}): Promise<{ status: number; body: string; ms: number; cookie: string | undefined }> {
  const started = Date.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  const body = await res.text();
  const cookie = res.headers.getSetCookie()[0]?.split(';')[0];
  return { status: res.status, body, ms: Date.now() - started, cookie };
}

for (const framework of ['express', 'koa'] as const) {
  describe(`Redis down and back, through ${framework}`, function () {
    this.timeout(30_000);
    let redis: RedisServer;
    let strategy: Strategy;
    let app: RunningServer;
    before(async () => {
      redis = await startRedis();
      strategy = await createStrategy({ strategy: 'store', secret: 'outage secret', store: { type: 'redis', url: redis.url, commandTimeout: '500ms' } });
      app = await startSessionApp(strategy, framework);
    });
    after(async () => {
      await app?.close();
      await strategy?.close();
      await redis?.stop();
    });

    it('answers 503 within a second while Redis is stopped, and serves again once it restarts, with no app restart', async () => {
      const first = await timed(`${app.url}/write?n=1`, { method: 'POST' });
      expect(first.status).to.equal(200);
      await redis.kill('SIGKILL');
      for (let i = 0; i < 5; i++) {
        const r = await timed(`${app.url}/write?n=2`, { method: 'POST', headers: { cookie: first.cookie! } });
        expect(r.status, r.body).to.equal(503);
        expect(JSON.parse(r.body).error).to.match(/^ERR_SCALEOUT_STORE_/);
        expect(r.ms).to.be.lessThan(1000);
      }
      await redis.restart();
      // Persistence is off, so the restarted Redis is empty: the old session is gone, new ones work.
      await eventually(async () => (await timed(`${app.url}/write?n=3`, { method: 'POST' })).status === 200, 10_000, 'writes succeed after restart');
      const again = await timed(`${app.url}/write?n=4`, { method: 'POST' });
      expect(again.status).to.equal(200);
      const read = await timed(`${app.url}/read`, { headers: { cookie: again.cookie! } });
      expect(JSON.parse(read.body)).to.deep.equal({ n: 4 });
    });

    it('answers 503 (not a hang, not a 500) when Redis hangs mid-request', async () => {
      const ok = await timed(`${app.url}/write?n=5`, { method: 'POST' });
      expect(ok.status).to.equal(200);
      redis.master.pause();
      try {
        const r = await timed(`${app.url}/read`, { headers: { cookie: ok.cookie! } });
        expect(r.status, r.body).to.equal(503);
        expect(r.ms).to.be.lessThan(3000);
      } finally {
        redis.master.resume();
      }
      await eventually(async () => (await timed(`${app.url}/read`, { headers: { cookie: ok.cookie! } })).status === 200, 10_000, 'reads succeed after the hang');
    });
  });
}
