// An ordinary Express app. The scaleout part is three lines: load the config, build the
// strategy (in node-runtime.ts), and `app.use(session(strategy))`.
import express from 'express';
import { session } from '@scaleout/express';
import { cleanName, cleanNote, countVisit, readForm, renderPage, type DemoSession } from './demo-page.js';
import { runNode } from './node-runtime.js';

await runNode('express', (ctx) => {
  const { strategy, profile } = ctx;
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => void res.send('ok'));
  app.get('/__node/stats', async (_req, res) => void res.json(await ctx.stats()));
  app.use(session(strategy));

  const sess = (req: express.Request) => req.session as unknown as DemoSession;
  app.get('/', async (req, res) => {
    const s = sess(req);
    countVisit(s, strategy.nodeId);
    const view = { nodeId: strategy.nodeId, framework: ctx.framework, strategy: strategy.kind, session: { ...s }, profile: await profile.lookup(s.user ?? 'guest') };
    res.type('html').send(renderPage({ ...view, ...(ctx.dashboardUrl ? { dashboardUrl: ctx.dashboardUrl } : {}) }));
  });
  app.get('/api/count', (req, res) => {
    const count = countVisit(sess(req), strategy.nodeId);
    res.json({ count, node: strategy.nodeId, user: sess(req).user ?? null });
  });
  app.post('/login', async (req, res, next) => {
    const name = cleanName((await readForm(req)).name);
    if (!name) return void res.status(400).send('a name is 1 to 32 letters, digits, spaces, . _ -');
    const { count, bornOn, note } = sess(req);
    // A new session id on login, so that an id seen before login is worth nothing after it.
    req.session.regenerate((err) => {
      if (err) return next(err);
      Object.assign(sess(req), { count, bornOn, note, user: name });
      res.redirect(303, '/');
    });
  });
  app.post('/logout', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.redirect(303, '/')));
  });
  app.post('/note', async (req, res) => {
    const note = cleanNote((await readForm(req)).note);
    if (note !== undefined) sess(req).note = note;
    res.redirect(303, '/');
  });
  return app;
});
