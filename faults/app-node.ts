// One app node of the fault matrix, as its own process: the strategy from `scaleout.config.json`
// (`SCALEOUT_CONFIG`, `SCALEOUT_NODE_ID`) behind the shared test app (Express or Koa, from
// `FAULTS_FRAMEWORK`), on `PORT`. Prints `READY <port>` once it serves.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createStrategy, loadConfig } from '@scaleout/core';
import { buildApp, FRAMEWORKS, type Framework } from '../test/support/apps.js';

const framework = (process.env.FAULTS_FRAMEWORK ?? 'express') as Framework;
if (!FRAMEWORKS.includes(framework)) throw new Error(`FAULTS_FRAMEWORK: got ${JSON.stringify(framework)}; expected one of ${FRAMEWORKS.join(', ')}`);

const strategy = await createStrategy(await loadConfig());
const server = createServer(buildApp(framework, strategy));
// Under the proxy's 4 s idle pool timeout, as a Node.js app's default: the proxy closes first.
server.keepAliveTimeout = 5000;
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve));
console.log(`READY ${(server.address() as AddressInfo).port}`);

const shutdown = async () => {
  server.closeAllConnections();
  server.close();
  await strategy.close().catch(() => undefined);
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
