import { expect } from 'chai';
import express from 'express';
import expressSession from 'express-session';
import request from 'supertest';
import { createStrategy } from '@scaleout/core';
import { describeConcurrency, burst, gate } from './support/concurrency.js';
import { startHttp } from './support/http.js';
import { cookieOf } from './support/session-behaviour.js';

describeConcurrency('sticky strategy', () => createStrategy({ strategy: 'sticky', nodeId: 'n1', secret: 'k' }));
describeConcurrency('store strategy on memory', () => createStrategy({ strategy: 'store', nodeId: 'n1', secret: 'k', store: { type: 'memory' } }));

describe('baseline: plain express-session with its MemoryStore', function () {
  it('loses keys when 100 concurrent requests each set their own (what the patch saves fix)', async function () {
    const app = express();
    app.use(expressSession({ secret: 'k', resave: false, saveUninitialized: false }));
    const g = gate();
    let arrived = 0;
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    app.get('/set', async (req, res) => {
      // Hold each request after its session loaded until all 100 have: they really overlap.
      if (String(req.query.key) !== 'k-first' && ++arrived === 100) open();
      if (String(req.query.key) !== 'k-first') await opened;
      (req.session as unknown as Record<string, unknown>)[String(req.query.key)] = 1;
      res.json({ ok: true });
    });
    app.get('/keys', (req, res) => {
      res.json(Object.keys(req.session).filter((k) => k.startsWith('k')));
    });
    const server = await startHttp(app as unknown as Parameters<typeof startHttp>[0]);
    try {
      const cookie = cookieOf(await request(server.server).get('/set?key=k-first').expect(200), 'connect.sid')!;
      await burst(server, cookie, Array.from({ length: 100 }, (_, i) => `/set?key=k${i}&g=${g}`));
      const keys = (await request(server.server).get('/keys').set('Cookie', cookie).expect(200)).body as string[];
      const kept = keys.filter((k) => k !== 'k-first').length;
      console.log(`      express-session + MemoryStore kept ${kept} of 100 concurrent keys`);
      expect(kept).to.be.below(100);
    } finally {
      await server.close();
    }
  });
});
