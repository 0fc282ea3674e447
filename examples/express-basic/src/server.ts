// One Express node whose session strategy comes from scaleout.config.json (or SCALEOUT_* env).
// Switch to Redis with no code change:
//   SCALEOUT_STRATEGY=store SCALEOUT_STORE__TYPE=redis SCALEOUT_STORE__URL=redis://127.0.0.1:6379 npm start
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import express from 'express';
import { createStrategy, loadConfig } from '@scaleout/core';
import { session } from '@scaleout/express';

const here = dirname(fileURLToPath(import.meta.url));
const strategy = await createStrategy(await loadConfig({ cwd: `${here}/..` }));

const app = express();
app.get('/healthz', (_req, res) => {
  res.send('ok');
});
app.use(session(strategy));
app.get('/', (req, res) => {
  const s = req.session as typeof req.session & { views?: number };
  s.views = (s.views ?? 0) + 1;
  res.type('html').send(`<h1>scaleout</h1><p>node <b>${strategy.nodeId}</b> (${strategy.kind}) served you ${s.views} time(s).</p>`);
});

const port = Number(process.env.PORT ?? 3000);
const server = app.listen(port, () => console.log(`listening on http://127.0.0.1:${port} (strategy ${strategy.kind}, node ${strategy.nodeId})`));

async function shutdown() {
  server.close();
  await strategy.close();
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
