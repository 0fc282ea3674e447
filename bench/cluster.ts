/**
 * `npm run bench -- cluster` (or `node --conditions=@scaleout/source --import tsx bench/cluster.ts`, which
 * also writes docs/cluster-benchmarks.md): the cluster strategy against its floor and anchors.
 *
 * - Replication lag: `set()` on node A until the value is readable on node B, both on Redis
 *   pub/sub, next to raw `PUBLISH` → `message` of a frame-sized payload on the same Redis in the
 *   same run (the floor: nothing can replicate faster than pub/sub delivers). Samples alternate
 *   between the two so both see the same noise. Target: lag p99 ≤ 2× the floor's p99.
 * - HTTP throughput: `@scaleout/express` with `strategy: 'cluster'` over Redis (a second node
 *   process receiving every write) vs the same app on the memory store, each in its own process.
 * - Snapshot: time for a new node to join (HELLO → last chunk applied) a cluster of N 1 KB sessions.
 * - Memory: heap per 1 KB session in a ReplicatedStore vs core's MemoryStore.
 *
 * Own flags: `--samples=2000` (lag samples per side), `--snapshot=100000` (sessions),
 * `--sessions=500` (HTTP cookie jar).
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { MemoryStore } from '@scaleout/core';
import { InProcessTransport, ReplicatedStore } from '@scaleout/cluster';
import { RedisTransport } from '@scaleout/redis';
import { startRedis } from '@scaleout/harness';
import { flag, type BenchOptions } from './support/options.js';
import { startServerChild, type ServerHandle } from './support/server.js';
import { measure, quantile, type MeasuredResult } from './support/load.js';
import { createSessions } from './support/sessions.js';
import { requestsWithCookies } from './support/load.js';
import { fmt, markdownTable, median, ratio, throughputTable } from './support/table.js';
import { runHeader } from './support/machine.js';

const SECRET = 'bench-cluster-secret';
const APPS = fileURLToPath(new URL('./support/session-apps.ts', import.meta.url));

function log(line: string): void {
  process.stderr.write(`[cluster] ${line}\n`);
}

function sorted(values: number[]): Float64Array {
  return Float64Array.from(values).sort();
}

async function startNode(nodeId: string, url: string, channel: string): Promise<ReplicatedStore & { transport: RedisTransport }> {
  const transport = new RedisTransport({ url, channel });
  const store = new ReplicatedStore({ nodeId, secret: SECRET, transport, discoveryWait: 300, readyTimeout: 120_000 });
  await store.start();
  return Object.assign(store, { transport });
}

/** Replication lag A → B and the raw pub/sub floor, sampled alternately. */
async function lag(url: string, samples: number): Promise<{ cluster: Float64Array; raw: Float64Array }> {
  const channel = `lag-${randomUUID()}`;
  const a = await startNode('lag-a', url, channel);
  const b = await startNode('lag-b', url, channel);
  const pub = new Redis(url);
  const sub = new Redis(url);
  const rawChannel = `raw-${randomUUID()}`;
  await sub.subscribe(rawChannel);
  const value = { user: 'u', pad: 'x'.repeat(1000) };
  const payload = Buffer.alloc(1150, 1); // about the size of the WRITES frame carrying `value`
  const cluster: number[] = [];
  const raw: number[] = [];
  let waitRaw: (() => void) | undefined;
  sub.on('messageBuffer', () => waitRaw?.());
  try {
    for (let i = 0; i < samples + 200; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        waitRaw = resolve;
        void pub.publish(rawChannel, payload);
      });
      const t1 = performance.now();
      const id = `lag-${i}`;
      const t2 = performance.now();
      await new Promise<void>((resolve) => {
        const check = () => {
          // B's store listens to its transport first, so by now it has applied what this frame carried.
          void b.get(id).then((v) => {
            if (v) {
              b.transport.off('message', check);
              resolve();
            }
          });
        };
        b.transport.on('message', check);
        void a.set(id, value, 600_000);
      });
      const t3 = performance.now();
      if (i >= 200) {
        raw.push(t1 - t0);
        cluster.push(t3 - t2);
      }
    }
  } finally {
    pub.disconnect();
    sub.disconnect();
    await Promise.all([a.close(), b.close()]);
  }
  return { cluster: sorted(cluster), raw: sorted(raw) };
}

async function throughput(url: string, options: BenchOptions): Promise<string> {
  const duration = options.duration ?? 5;
  const rounds = options.rounds ?? 3;
  const connections = options.connections ?? 50;
  const count = Number(flag(options, 'sessions', '500'));
  const channel = `http-${randomUUID()}`;
  const clusterConfig = { strategy: 'cluster', cluster: { transport: { type: 'redis', url, channel }, discoveryWait: '300ms' } };
  const servers: ServerHandle[] = [];
  try {
    const memory = await startServerChild({ module: APPS, export: 'scaleoutExpressApp', options: {} });
    servers.push(memory);
    const node = await startServerChild({ module: APPS, export: 'scaleoutExpressApp', options: { config: clusterConfig } });
    servers.push(node);
    // A second node: every write is replicated to it, as in a real cluster.
    servers.push(await startServerChild({ module: APPS, export: 'scaleoutExpressApp', options: { config: clusterConfig } }));
    const cases = [
      { name: 'Express + @scaleout/express, memory store', server: memory },
      { name: 'Express + @scaleout/express, cluster strategy (2 nodes, Redis)', server: node },
    ];
    const jars = await Promise.all(cases.map((c) => createSessions(c.server.url, { count })));
    const results: MeasuredResult[][] = cases.map(() => []);
    // Cases alternate within each round, so load from elsewhere on the machine hits both alike.
    for (let round = 0; round < rounds; round++) {
      for (const [k, c] of cases.entries()) {
        log(`round ${round + 1}/${rounds}: ${c.name}`);
        results[k]!.push(await measure(c.server, { requests: requestsWithCookies('/count', jars[k]!), duration, warmup: options.warmup ?? 2, connections }));
      }
    }
    const med = (k: number, f: (r: MeasuredResult) => number) => median(results[k]!.map(f));
    const perRound = (f: (r: MeasuredResult) => number) => median(results[1]!.map((r, i) => f(r) / f(results[0]![i]!)));
    const rows = cases.map((c, k) => ({
      name: c.name,
      rps: med(k, (r) => r.rps),
      p50: med(k, (r) => r.p50),
      p99: med(k, (r) => r.p99),
      cpuPerRequestUs: med(k, (r) => r.cpuPerRequestUs),
      ...(k === 0 ? { isAnchor: true } : { anchor: cases[0]!.name, ratios: { rps: perRound((r) => r.rps), p99: perRound((r) => r.p99), cpu: perRound((r) => r.cpuPerRequestUs) } }),
    }));
    const note = `Median of ${rounds} rounds of ${duration} s, ${connections} connections; ratios are medians of each round's ratio. Server CPU is the serving node's only: the second node and Redis use more.`;
    return `${throughputTable(rows)}\n\n${note}`;
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
}

/** Time for a node to join a cluster holding `count` 1 KB sessions. */
async function snapshot(url: string, count: number): Promise<{ ms: number; sessions: number; mb: number }> {
  const channel = `snap-${randomUUID()}`;
  const a = await startNode('snap-a', url, channel);
  const value = { user: 'u', pad: 'x'.repeat(1000) };
  for (let i = 0; i < count; i += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, count - i) }, (_, j) => a.set(`snap-${i + j}`, value, 3_600_000)));
  }
  const before = a.stats().bytesSent;
  const t0 = performance.now();
  const b = await startNode('snap-b', url, channel);
  const ms = performance.now() - t0;
  const sessions = await b.size();
  const mb = (a.stats().bytesSent - before) / 1e6;
  await Promise.all([a.close(), b.close()]);
  return { ms, sessions, mb };
}

function gc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Heap bytes per 1 KB session: ReplicatedStore vs MemoryStore. */
async function memory(count: number): Promise<{ replicated: number; patched: number; memoryStore: number }> {
  const collect = gc();
  const value = { user: 'u', pad: 'x'.repeat(1000) };
  const measureStore = async (fill: (i: number) => Promise<void>) => {
    collect();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < count; i += 1000) await Promise.all(Array.from({ length: Math.min(1000, count - i) }, (_, j) => fill(i + j)));
    collect();
    return (process.memoryUsage().heapUsed - before) / count;
  };
  const transport = new InProcessTransport({ bus: `mem-${randomUUID()}` });
  const rs = new ReplicatedStore({ nodeId: 'mem', secret: SECRET, transport, discoveryWait: 10 });
  await rs.start();
  const id = (i: number) => `sess-${String(i).padStart(8, '0')}-${'k'.repeat(22)}`;
  const replicated = await measureStore((i) => rs.set(id(i), value, 3_600_000));
  // What the Express and Koa layers do on later requests: patch a key or two, which adds key versions.
  const patched = await measureStore(async (i) => {
    await rs.patch(id(i), { set: { count: i, seen: Date.now() }, unset: [] }, 3_600_000);
  });
  await rs.close();
  const ms = new MemoryStore({ maxSessions: 0 });
  const memoryStore = await measureStore((i) => ms.set(`sess-${String(i).padStart(8, '0')}-${'k'.repeat(22)}`, value, 3_600_000));
  await ms.close();
  return { replicated, patched, memoryStore };
}

/** Runs every part; returns the markdown section. */
export async function run(options: BenchOptions = {}): Promise<string> {
  const samples = Number(flag(options, 'samples', '2000'));
  const snapshotSessions = Number(flag(options, 'snapshot', '100000'));
  const redis = await startRedis();
  try {
    log(`replication lag, ${samples} samples each`);
    const l = await lag(redis.url, samples);
    log('HTTP throughput');
    const http = await throughput(redis.url, options);
    log(`snapshot of ${snapshotSessions} sessions`);
    const snap = await snapshot(redis.url, snapshotSessions);
    log('memory per session');
    const mem = await memory(Math.min(snapshotSessions, 50_000));
    const q = (s: Float64Array, p: number) => quantile(s, p);
    const target = q(l.cluster, 0.99) <= 2 * q(l.raw, 0.99) ? 'met' : 'not met';
    return [
      '## Cluster strategy',
      '',
      `### Replication lag (1 KB session, write on A until readable on B, ${samples} samples)`,
      '',
      markdownTable(
        ['path', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
        [
          ['raw Redis PUBLISH → message (floor)', fmt(q(l.raw, 0.5), 3), fmt(q(l.raw, 0.9), 3), fmt(q(l.raw, 0.99), 3), fmt(l.raw.at(-1), 3)],
          ['ReplicatedStore set on A → get on B', fmt(q(l.cluster, 0.5), 3), fmt(q(l.cluster, 0.9), 3), fmt(q(l.cluster, 0.99), 3), fmt(l.cluster.at(-1), 3)],
          ['ratio to the floor', ratio(q(l.cluster, 0.5), q(l.raw, 0.5)), ratio(q(l.cluster, 0.9), q(l.raw, 0.9)), ratio(q(l.cluster, 0.99), q(l.raw, 0.99)), ''],
        ],
      ),
      '',
      `Target lag p99 ≤ 2× the floor's p99: **${target}**.`,
      '',
      '### HTTP throughput (GET /count: read, increment, save)',
      '',
      http,
      '',
      '### Join and memory',
      '',
      markdownTable(
        ['measure', 'value'],
        [
          [`snapshot: a new node joins ${snapshotSessions.toLocaleString('en')} sessions of 1 KB (HELLO → ready)`, `${fmt(snap.ms)} ms (${snap.sessions.toLocaleString('en')} sessions, ${fmt(snap.mb, 1)} MB streamed)`],
          ['heap per 1 KB session, ReplicatedStore', `${fmt(mem.replicated)} bytes`],
          ['extra heap per session once patched (2 keys with their own versions)', `${fmt(mem.patched)} bytes`],
          ['heap per 1 KB session, core MemoryStore (reference)', `${fmt(mem.memoryStore)} bytes`],
        ],
      ),
      '',
    ].join('\n');
  } finally {
    await redis.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { parseArgs, benchOptions } = await import('./support/options.js');
  const { writeFile } = await import('node:fs/promises');
  const { flags } = parseArgs(process.argv.slice(2));
  const section = await run(benchOptions(flags));
  const command = `node --conditions=@scaleout/source --import tsx bench/cluster.ts ${process.argv.slice(2).join(' ')}`.trim();
  const text = `# Cluster strategy benchmarks\n\n${runHeader({ command })}\n${section.replace(/^## Cluster strategy\n/, '')}`;
  if (flags.write !== false) await writeFile(fileURLToPath(new URL('../docs/cluster-benchmarks.md', import.meta.url)), text);
  process.stdout.write(text);
}
