import { createServer, type RequestListener } from 'node:http';
import { debuglog } from 'node:util';
import { Registry } from 'prom-client';
import { createStrategy, loadConfig, metrics, type Strategy } from '@scaleout/core';
import { metrics as clusterMetrics } from '@scaleout/cluster';
import { metrics as hazelcastMetrics } from '@scaleout/hazelcast';
import { metrics as redisMetrics } from '@scaleout/redis';
import { ProfileClient } from './profile-client.js';

const debug = debuglog('scaleout:sample-node');

/** What a node's `/__node/stats` answers: the dashboard's per-node numbers. */
export interface NodeStats {
  nodeId: string;
  framework: 'express' | 'koa';
  strategy: string;
  pid: number;
  sessions: number | null;
  rssBytes: number;
  heapUsedBytes: number;
  requests: number;
  /** `cluster`: the replicated store's message counters. */
  replication?: Record<string, unknown>;
  /** From the node's metrics: `scaleout_session_requests_total{outcome="saved"}`. */
  sessionsSaved: number;
  /** From the node's metrics: `scaleout_session_load_duration_seconds` sum and count. */
  load: { sum: number; count: number };
}

/**
 * The node's Prometheus registry, served at `/metrics`: the session layer, and the store's (and
 * with `cluster`, replication's) metrics, as an app wires them.
 */
function nodeMetrics(strategy: Strategy): Registry {
  const registry = new Registry();
  metrics(registry, { strategy });
  const store = strategy.config.store as { type: string };
  if (strategy.kind === 'cluster') clusterMetrics(registry, { strategy });
  else if (store.type === 'redis') redisMetrics(registry, { strategy, sessions: true });
  else if (store.type === 'hazelcast') hazelcastMetrics(registry, { strategy, sessions: true });
  return registry;
}

/** The sum of a metric's samples named `sample` (`_sum`, `_count`) whose labels include `labels`. */
async function read(registry: Registry, name: string, sample: string, labels: Record<string, string> = {}): Promise<number> {
  const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.filter((v) => ((v as { metricName?: string }).metricName ?? name) === sample && Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
}

/** What every node is given by its launcher. */
export interface NodeContext {
  strategy: Strategy;
  profile: ProfileClient;
  framework: 'express' | 'koa';
  dashboardUrl: string | undefined;
  stats(): Promise<NodeStats>;
}

/**
 * Starts one app node: the strategy from `scaleout.config.json` (`$SCALEOUT_CONFIG`,
 * `$SCALEOUT_NODE_ID`), the app `build` makes, on `$PORT`. Tells the launcher `ready` over IPC
 * and exits when the launcher goes away.
 */
export async function runNode(framework: 'express' | 'koa', build: (ctx: NodeContext) => RequestListener): Promise<void> {
  process.on('disconnect', () => process.exit(0));
  const strategy = await createStrategy(await loadConfig());
  const profile = new ProfileClient((process.env.PROFILE_URLS ?? '').split(',').filter(Boolean));
  let requests = 0;
  const registry = nodeMetrics(strategy);
  const ctx: NodeContext = {
    strategy,
    profile,
    framework,
    dashboardUrl: process.env.DASHBOARD_URL || undefined,
    async stats() {
      const mem = process.memoryUsage();
      const store = strategy.store as typeof strategy.store & { stats?: () => Record<string, unknown> };
      let sessions: number | null = null;
      try {
        sessions = await strategy.store.size();
      } catch {
        // The store is down: the dashboard shows no number rather than a wrong one.
      }
      return {
        nodeId: strategy.nodeId,
        framework,
        strategy: strategy.kind,
        pid: process.pid,
        sessions,
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        requests,
        ...(strategy.kind === 'cluster' && typeof store.stats === 'function' ? { replication: store.stats() } : {}),
        sessionsSaved: await read(registry, 'scaleout_session_requests_total', 'scaleout_session_requests_total', { outcome: 'saved' }),
        load: {
          sum: await read(registry, 'scaleout_session_load_duration_seconds', 'scaleout_session_load_duration_seconds_sum'),
          count: await read(registry, 'scaleout_session_load_duration_seconds', 'scaleout_session_load_duration_seconds_count'),
        },
      };
    },
  };
  const app = build(ctx);
  const server = createServer((req, res) => {
    requests++;
    if (req.url === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
      );
      return;
    }
    app(req, res);
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  debug('%s (%s, %s) on %d', strategy.nodeId, framework, strategy.kind, port);
  console.log(`${strategy.nodeId} (${framework}, ${strategy.kind}) listening on http://127.0.0.1:${port}`);
  process.send?.({ type: 'ready', port });
  const shutdown = async () => {
    server.closeAllConnections();
    server.close();
    await Promise.allSettled([profile.close(), strategy.close()]);
    process.exit(0);
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
