// An app node of an LbPair: Express with @scaleout/express over Redis (the `store` strategy, or
// `cluster` with Redis pub/sub as its transport), run as its own process inside a network
// namespace. GET /count adds one to the session's counter, GET /peek reads it, GET /healthz for
// the proxy's checks. Every answer names the hop it came through (x-peer-address: the proxy's
// address), which is how a failover is measured. Settings come from CLUSTER_* variables (those
// of the tests' cluster node); prints `READY <port>` once it serves.
import { createServer } from 'node:http';
import express from 'express';
import { createStrategy } from '@scaleout/core';
import { session } from '@scaleout/express';
import { serveWithReadyLine } from './ready-line.js';

const env = process.env;
const nodeId = env.CLUSTER_NODE_ID ?? `node-${process.pid}`;
const url = env.CLUSTER_REDIS_URL ?? 'redis://127.0.0.1:6379';
const common = { nodeId, secret: 'lb-pair-node-secret', session: { ttl: '10m' } };
const strategy =
  env.CLUSTER_STRATEGY === 'cluster'
    ? await createStrategy({ ...common, strategy: 'cluster', cluster: { transport: { type: 'redis', url, channel: env.CLUSTER_CHANNEL ?? 'scaleout' }, antiEntropyInterval: '1s', discoveryWait: '300ms' } })
    : await createStrategy({ ...common, strategy: 'store', store: { type: 'redis', url } });

interface Counter {
  count?: number;
}

const app = express();
app.use((req, res, next) => {
  res.setHeader('x-peer-address', req.socket.remoteAddress ?? '');
  next();
});
app.get('/healthz', (_req, res) => void res.send('ok'));
app.use(session(strategy));
app.get('/count', (req, res) => {
  const s = req.session as unknown as Counter;
  s.count = (s.count ?? 0) + 1;
  res.json({ count: s.count, node: nodeId });
});
app.get('/peek', (req, res) => void res.json({ count: (req.session as unknown as Counter).count ?? null, node: nodeId }));

serveWithReadyLine(createServer(app), { port: Number(env.CLUSTER_HTTP_PORT ?? 0), host: env.CLUSTER_HTTP_HOST, close: () => strategy.close() });
