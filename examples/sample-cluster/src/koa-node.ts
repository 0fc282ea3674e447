// An ordinary Koa app. The scaleout part is the same three lines as in Express: load the
// config, build the strategy (in node-runtime.ts), and `app.use(session(strategy, app))`.
import Koa from 'koa';
import { session } from '@scaleout/koa';
import { cleanName, cleanNote, countVisit, readForm, renderPage, type DemoSession } from './demo-page.js';
import { runNode } from './node-runtime.js';

await runNode('koa', (ctx) => {
  const { strategy, profile } = ctx;
  const app = new Koa();
  app.silent = true;
  app.use(async (c, next) => {
    if (c.path === '/healthz') c.body = 'ok';
    else if (c.path === '/__node/stats') c.body = await ctx.stats();
    else await next();
  });
  app.use(session(strategy, app));
  app.use(async (c) => {
    const s = c.session as unknown as DemoSession;
    const route = `${c.method} ${c.path}`;
    if (route === 'GET /') {
      countVisit(s, strategy.nodeId);
      const view = { nodeId: strategy.nodeId, framework: ctx.framework, strategy: strategy.kind, session: { ...s }, profile: await profile.lookup(s.user ?? 'guest') };
      c.type = 'html';
      c.body = renderPage({ ...view, ...(ctx.dashboardUrl ? { dashboardUrl: ctx.dashboardUrl } : {}) });
    } else if (route === 'GET /api/count') {
      const count = countVisit(s, strategy.nodeId);
      c.body = { count, node: strategy.nodeId, user: s.user ?? null };
    } else if (route === 'POST /login') {
      const name = cleanName((await readForm(c.req)).name);
      if (!name) {
        c.status = 400;
        c.body = 'a name is 1 to 32 letters, digits, spaces, . _ -';
        return;
      }
      // A new session id on login; koa-session's regenerate keeps the data, which is what we want.
      await (c.session as unknown as { regenerate(): Promise<void> }).regenerate();
      (c.session as unknown as DemoSession).user = name;
      c.status = 303;
      c.redirect('/');
    } else if (route === 'POST /logout') {
      c.session = null;
      c.status = 303;
      c.redirect('/');
    } else if (route === 'POST /note') {
      const note = cleanNote((await readForm(c.req)).note);
      if (note !== undefined) s.note = note;
      c.status = 303;
      c.redirect('/');
    } else {
      c.status = 404;
    }
  });
  return app.callback();
});
