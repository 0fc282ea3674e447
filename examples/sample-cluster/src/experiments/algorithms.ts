import { createServer, type Server } from 'node:http';
import { ALGORITHMS } from '@scaleout/balancer';
import { createProxy } from '@scaleout/proxy';
import { percentile, pool, type ExperimentResult } from './table.js';

const FAST_MS = 5;
const SLOW_MS = 100;
const CONCURRENCY = 8;

interface Backend {
  id: string;
  server: Server;
  url: string;
  served: number;
}

async function backend(id: string, delayMs: number): Promise<Backend> {
  const b: Backend = { id, server: createServer(), url: '', served: 0 };
  b.server.on('request', (req, res) => {
    if (req.url === '/healthz') return void res.end('ok');
    b.served++;
    setTimeout(() => res.end(id), delayMs);
  });
  await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
  b.url = `http://127.0.0.1:${(b.server.address() as { port: number }).port}`;
  return b;
}

/**
 * Each algorithm of `@scaleout/proxy` in turn, `size` requests with 8 in flight, over three
 * nodes of which node-3 answers in 100 ms and the others in 5 ms: who got the load, and the
 * latency the clients saw.
 */
export async function algorithms(size: number): Promise<ExperimentResult> {
  const backends = [await backend('node-1', FAST_MS), await backend('node-2', FAST_MS), await backend('node-3', SLOW_MS)];
  const proxy = createProxy({ listen: 0, targets: backends.map((b) => ({ id: b.id, url: b.url })), healthCheck: { enabled: false }, status: { enabled: false } });
  const rows: (string | number)[][] = [];
  try {
    const { port } = await proxy.listen();
    const url = `http://127.0.0.1:${port}/work`;
    for (const name of ALGORITHMS) {
      proxy.setAlgorithm(name);
      // A short warm-up gives the latency-aware algorithms their first samples.
      await pool(Array.from({ length: Math.min(60, size) }), CONCURRENCY, async () => void (await (await fetch(url)).text()));
      for (const b of backends) b.served = 0;
      const latencies: number[] = [];
      await pool(Array.from({ length: size }), CONCURRENCY, async () => {
        const t = performance.now();
        await (await fetch(url)).text();
        latencies.push(performance.now() - t);
      });
      const share = (b: Backend) => Math.round((b.served / size) * 1000) / 10;
      const ms = (v: number) => Math.round(v * 10) / 10;
      const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
      rows.push([name, ...backends.map(share), ms(mean), ms(percentile(latencies, 0.5)), ms(percentile(latencies, 0.9)), ms(percentile(latencies, 0.99))]);
    }
  } finally {
    await proxy.close();
    await Promise.all(backends.map((b) => new Promise<void>((resolve) => {
      b.server.closeAllConnections();
      b.server.close(() => resolve());
    })));
  }
  return {
    name: 'algorithms',
    title: 'algorithms: load spread and tail latency with one slow node',
    command: `npm run experiment -- algorithms --size ${size}`,
    columns: ['algorithm', 'node-1 %', 'node-2 %', `node-3 % (slow, ${SLOW_MS} ms)`, 'mean ms', 'p50 ms', 'p90 ms', 'p99 ms'],
    rows,
    notes: [
      `Round robin and weighted round robin give the slow node its third whatever it costs, so a third of the requests wait ${SLOW_MS} ms: the mean and the p90 are the slow node's. Least connections (its requests stay in flight longer) and least response time (peak EWMA, its latency is seen) send it a few percent, which is what moves the mean and the p90; the p99 stays the slow node's as long as it gets more than 1% of the requests. IP hash sends every request from one address to one node: here all clients are 127.0.0.1, as a whole office behind NAT would be.`,
    ],
  };
}
