/**
 * Proxy throughput and added latency: the same two app nodes reached directly (one node), through
 * `@scaleout/proxy` (its CLI, round robin, learn-mode stickiness on) as one process and with
 * `workers: 2`, through the npm `http-proxy` module (keep-alive agent, the balancer's round
 * robin), through HAProxy (`nbthread 2`) and through nginx (`worker_processes auto`), both from
 * `scaleout-proxy export`. Every proxy runs in its own process group; CPU per request sums every
 * process of the group (nginx workers, HAProxy threads, the proxy's primary and its workers).
 *
 * Two loads: saturation (`--connections`, default 50) for requests/s, and a moderate one
 * (`--moderate`, default 4 connections) for the p99 each proxy adds to the direct path. The load
 * comes from wrk (its own process, `--wrk-threads`, default 1) when provision installed it, else
 * from autocannon in this process (`--load=autocannon` forces it). The proxy runs as users run it,
 * from the built packages (`npm run build` first, here); `--from-source` runs it from the
 * TypeScript sources under tsx instead, which costs about 15% more CPU per request.
 *
 * `npm run bench -- proxy` (writes its section of docs/benchmarks.md), or alone:
 * `node --conditions=@scaleout/source --import tsx bench/proxy.ts` (also writes docs/proxy-benchmarks.md).
 */
import { execFileSync } from 'node:child_process';
import { Agent, type RequestListener } from 'node:http';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createAlgorithm, EndpointSet } from '@scaleout/balancer';
import { exportHaproxy, exportNginx, parseProxyConfig } from '@scaleout/proxy';
import { onFreePort, startBalancerProcess, startHaproxy, startNginx } from '@scaleout/harness';
import { measure, type MeasuredResult } from './support/load.js';
import { hasWrk, measureWrk } from './support/wrk.js';
import { startServerChild, type CpuSample, type ServerHandle } from './support/server.js';
import { flag, type BenchOptions } from './support/options.js';
import { fmt, markdownTable, median } from './support/table.js';
import { runHeader } from './support/machine.js';

const SELF = new URL(import.meta.url);
const BIN = fileURLToPath(new URL('../packages/proxy/bin/scaleout-proxy.js', import.meta.url));
const SECRET = 'bench-proxy-secret';
const WORKERS = '@scaleout/proxy (workers: 2)';
const FLOOR = 'floor: node:http + undici, nothing else';
const FLOOR_WORKERS = 'floor (2 workers)';
const FLOOR_SCRIPT = fileURLToPath(new URL('./support/floor-proxy.mjs', import.meta.url));

/** An app node for the benchmark: a small fixed answer. */
export function helloNode(options: { id: string }): RequestListener {
  const body = Buffer.from(JSON.stringify({ node: options.id, hello: 'world' }));
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  };
}

/** The anchor: npm `http-proxy` with a keep-alive agent, spreading over the nodes in turn. */
export function httpProxyServer(options: { targets: string[] }): { listener: RequestListener; close(): void } {
  const httpProxy = createRequire(import.meta.url)('http-proxy') as typeof import('http-proxy');
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const proxy = httpProxy.createProxyServer({ agent, xfwd: true });
  const set = new EndpointSet(options.targets.map((url) => ({ url })), { outlier: false });
  const rr = createAlgorithm('round-robin');
  proxy.on('error', (_err, _req, res) => {
    if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
  });
  return {
    listener: (req, res) => proxy.web(req, res, { target: rr.pick(set.candidates())!.url.href }),
    close: () => {
      proxy.close();
      agent.destroy();
    },
  };
}

const TICK_US = 1_000_000 / 100; // USER_HZ is 100 on Linux

/** CPU used so far by every process in process group `pgid` (Linux /proc). */
async function groupCpu(pgid: number): Promise<CpuSample> {
  let user = 0;
  let system = 0;
  let rss = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== pgid) continue; // field 5: pgrp
    user += Number(fields[11]) * TICK_US; // field 14: utime
    system += Number(fields[12]) * TICK_US; // field 15: stime
    rss += Number(fields[21]) * 4096; // field 24: rss in pages
  }
  return { user, system, rss };
}

/**
 * A proxy in a process group of its own, on a free port. Each is told its port in its config or
 * command line, so a port taken meanwhile (PortInUseError) means a start on another one.
 */
async function group(name: string, start: (port: number) => Promise<{ proc: { pid?: number }; close(): Promise<void> }>): Promise<ServerHandle & { name: string }> {
  return onFreePort(async (port) => {
    const running = await start(port);
    const close = () => running.close();
    return { name, url: `http://127.0.0.1:${port}`, port, pid: running.proc.pid, cpu: () => groupCpu(running.proc.pid!), close, [Symbol.asyncDispose]: close };
  });
}

/** Starts `node <args>` in a fresh folder (the harness removes it when the process stops, or fails to). */
async function nodeGroup(args: (dir: string, port: number) => Promise<string[]>, port: number) {
  const dir = await mkdtemp(join(tmpdir(), 'scaleout-bench-proxy-'));
  return startBalancerProcess(process.execPath, await args(dir, port), dir, port);
}

interface Row {
  name: string;
  full: MeasuredResult[];
  moderate: MeasuredResult[];
}

/** Runs the benchmark and returns its markdown section. */
export async function run(options: BenchOptions = {}): Promise<string> {
  const duration = options.duration ?? 5;
  const warmup = options.warmup ?? 1;
  const rounds = options.rounds ?? 1;
  const connections = options.connections ?? 50;
  const moderate = Number(flag(options, 'moderate', '4'));
  const nodes = await Promise.all(['node-1', 'node-2'].map((id) => startServerChild({ module: SELF, export: 'helloNode', options: { id } })));
  const cases: (ServerHandle & { name: string })[] = [];
  try {
    const base = { secret: SECRET, algorithm: 'round-robin', targets: nodes.map((n, i) => ({ id: `node-${i + 1}`, url: n.url })), sticky: { mode: 'learn' }, healthCheck: { interval: '2s', timeout: '1s' } };
    cases.push(Object.assign(nodes[0]!, { name: 'direct (one node)' }));
    const fromSource = options.flags?.['from-source'] === true || options.flags?.['from-source'] === 'true';
    if (!fromSource) execFileSync('npm', ['run', 'build'], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: 'ignore' });
    const cli = (config: string) => (fromSource ? ['--conditions=@scaleout/source', '--import', import.meta.resolve('tsx'), BIN, '--config', config] : [BIN, '--config', config]);
    const scaleout = (extra: object) => async (dir: string, port: number) => {
      const file = join(dir, 'proxy.json');
      await writeFile(file, JSON.stringify({ ...base, listen: port, ...extra }));
      return cli(file);
    };
    cases.push(await group('@scaleout/proxy', (port) => nodeGroup(scaleout({}), port)));
    cases.push(await group(WORKERS, (port) => nodeGroup(scaleout({ workers: 2 }), port)));
    // The same hop with nothing but forwarding (support/floor-proxy.mjs): what Node.js's HTTP
    // stack costs on its own, in the same run.
    for (const [name, workers] of [[FLOOR, 1], [FLOOR_WORKERS, 2]] as const) {
      cases.push(await group(name, (port) => nodeGroup(async () => [FLOOR_SCRIPT, String(port), String(workers), ...nodes.map((n) => n.url)], port)));
    }
    cases.push(Object.assign(await startServerChild({ module: SELF, export: 'httpProxyServer', options: { targets: nodes.map((n) => n.url) } }), { name: 'http-proxy (npm)' }));
    // Two HAProxy threads, stated rather than left to its default of one per core.
    const haproxyConfig = (port: number) => exportHaproxy(parseProxyConfig({ ...base, listen: port })).replace(/^global\n/m, 'global\n    nbthread 2\n');
    cases.push(await group('HAProxy', (port) => startHaproxy(haproxyConfig(port), port)));
    cases.push(await group('nginx', (port) => startNginx(exportNginx(parseProxyConfig({ ...base, listen: port })), port)));

    const load = flag(options, 'load', hasWrk() ? 'wrk' : 'autocannon');
    if (load !== 'wrk' && load !== 'autocannon') throw new Error(`--load: expected wrk or autocannon, got ${load}`);
    if (load === 'wrk' && !hasWrk()) throw new Error('--load=wrk: no wrk on the PATH; run `bash scripts/provision.sh`');
    const threads = Number(flag(options, 'wrk-threads', '1'));
    const hit = (c: ServerHandle, conns: number, warm: number) =>
      load === 'wrk' ? measureWrk(c, { path: '/', connections: conns, duration, warmup: warm, threads }) : measure(c, { path: '/', connections: conns, duration, warmup: warm });
    const rows: Row[] = cases.map((c) => ({ name: c.name, full: [], moderate: [] }));
    for (let r = 0; r < rounds; r++) {
      for (const [i, c] of cases.entries()) {
        process.stderr.write(`bench proxy: round ${r + 1}/${rounds}: ${c.name}\n`);
        rows[i]!.full.push(await hit(c, connections, warmup));
        // Direct, the moderate load goes half to each node at once, as every proxy spreads it:
        // the nodes then queue what they would queue behind a proxy, and only the hop differs.
        rows[i]!.moderate.push(i === 0 ? bothNodes(await Promise.all(nodes.map((n) => hit(n, Math.max(1, Math.ceil(moderate / 2)), 0)))) : await hit(c, moderate, 0));
      }
    }
    return report(rows, { connections, moderate, duration, rounds, fromSource, load: load === 'wrk' ? `wrk (${threads} thread${threads === 1 ? '' : 's'}, its own process)` : 'autocannon in the benchmark process' });
  } finally {
    await Promise.all(cases.slice(1).map((c) => c.close()));
    await Promise.all(nodes.map((n) => n.close()));
  }
}

/** Two concurrent runs, one on each node, as one: the requests summed, the latencies the mean of the two. */
function bothNodes([a, b]: MeasuredResult[]): MeasuredResult {
  const mean = (k: 'p50' | 'p90' | 'p99' | 'mean') => (a![k] + b![k]) / 2;
  return { ...a!, rps: a!.rps + b!.rps, total: a!.total + b!.total, p50: mean('p50'), p90: mean('p90'), p99: mean('p99'), mean: mean('mean') };
}

function report(rows: Row[], o: { connections: number; moderate: number; duration: number; rounds: number; load: string; fromSource: boolean }): string {
  const m = (rs: MeasuredResult[], k: 'rps' | 'p50' | 'p99' | 'cpuPerRequestUs') => median(rs.map((r) => r[k]));
  const byName = (n: string) => rows.find((r) => r.name === n)!;
  const ours = byName('@scaleout/proxy');
  const workers = byName(WORKERS);
  const haproxy = byName('HAProxy');
  const direct = byName('direct (one node)');
  // Per round (the proxy and the direct path met the same background load), then the median.
  const addedPerRound = (r: Row) => r.moderate.map((x, i) => x.p99 - direct.moderate[i]!.p99);
  const added = (r: Row) => median(addedPerRound(r));
  const table = markdownTable(
    ['path', 'req/s', 'p50 ms', 'p99 ms', 'proxy CPU µs/req', `p99 ms at ${o.moderate} conns`, 'p99 added vs direct', 'req/s per round', 'CPU µs/req per round', 'p99 added per round'],
    rows.map((r) => [
      r.name,
      fmt(m(r.full, 'rps')),
      fmt(m(r.full, 'p50'), 2),
      fmt(m(r.full, 'p99'), 2),
      r === direct ? '(node)' : fmt(m(r.full, 'cpuPerRequestUs')),
      fmt(m(r.moderate, 'p99'), 2),
      r === direct ? '–' : fmt(added(r), 2),
      r.full.map((x) => fmt(x.rps)).join(' / '),
      r === direct ? '(node)' : r.full.map((x) => fmt(x.cpuPerRequestUs)).join(' / '),
      r === direct ? '–' : addedPerRound(r).map((x) => fmt(x, 2)).join(' / '),
    ]),
  );
  const rps = m(workers.full, 'rps') / m(haproxy.full, 'rps');
  const cpu = m(workers.full, 'cpuPerRequestUs') / m(haproxy.full, 'cpuPerRequestUs');
  const p99 = added(workers) / added(haproxy);
  const single = m(ours.full, 'rps') / m(haproxy.full, 'rps');
  const vsHttpProxy = m(ours.full, 'rps') / m(byName('http-proxy (npm)').full, 'rps');
  const floor = byName(FLOOR);
  const floorWorkers = byName(FLOOR_WORKERS);
  const cpuOf = (r: Row) => m(r.full, 'cpuPerRequestUs');
  const met = (ok: boolean) => (ok ? 'met' : 'not met');
  return `## Proxy

Two app nodes (plain \`node:http\`, a 40-byte JSON answer, each in its own process); every proxy
spreads over both with round robin. Load from ${o.load}: ${o.connections} connections for
throughput, ${o.moderate} for the added-latency column (direct: ${Math.max(1, Math.ceil(o.moderate / 2))} to each node at once, as the
proxies spread them, with the mean of the two p99s; the added p99 is taken per round, then the
median); ${o.duration} s per case, ${o.rounds} round(s), medians, and
each round's figures. HAProxy runs \`nbthread 2\`, nginx \`worker_processes auto\` (2 here), \`${WORKERS}\`
a primary and two workers (\`node:cluster\`); \`@scaleout/proxy\` and http-proxy are one Node.js process.
\`@scaleout/proxy\` runs ${o.fromSource ? 'from its TypeScript sources under tsx (`--from-source`)' : 'from the built packages, as installed from npm'}.
On this 2-core machine the load generator and both app nodes share the cores with the proxy.

${table}

Targets, \`${WORKERS}\` against HAProxy in the same run:
- req/s ≥ 0.75× HAProxy's — **${rps.toFixed(2)}×** (${met(rps >= 0.75)});
- CPU per request ≤ 2× HAProxy's — **${cpu.toFixed(2)}×** (${met(cpu <= 2)});
- p99 added at ${o.moderate} connections ≤ 2× HAProxy's added p99 — **${added(workers).toFixed(2)} ms vs ${added(haproxy).toFixed(2)} ms, ${Number.isFinite(p99) && p99 > 0 ? `${p99.toFixed(2)}×` : 'n/a'}** (${met(added(workers) <= 2 * Math.max(added(haproxy), 0))}).

Single process: ${single.toFixed(2)}× HAProxy's req/s, ${vsHttpProxy.toFixed(2)}× http-proxy's.

The floor (\`bench/support/floor-proxy.mjs\`: \`node:http\` in, one undici \`Pool\` per node out, hop-by-hop
headers dropped, nothing else) is what any proxy on Node.js's HTTP stack costs at least:
- with 2 workers, ${(m(floorWorkers.full, 'rps') / m(haproxy.full, 'rps')).toFixed(2)}× HAProxy's req/s at ${(cpuOf(floorWorkers) / cpuOf(haproxy)).toFixed(2)}× its CPU per request (${fmt(cpuOf(floorWorkers))} µs);
- as one process, ${(m(floor.full, 'rps') / m(haproxy.full, 'rps')).toFixed(2)}× HAProxy's req/s at ${(cpuOf(floor) / cpuOf(haproxy)).toFixed(2)}× its CPU (${fmt(cpuOf(floor))} µs).

\`@scaleout/proxy\`'s features (header rules, stickiness, health, retries, timeouts, limits, metrics) cost
${fmt(cpuOf(ours) - cpuOf(floor))} µs per request above the floor as one process, ${fmt(cpuOf(workers) - cpuOf(floorWorkers))} µs with workers.
`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const started = new Date();
  const section = await run({ rounds: 2, flags: {} });
  const command = 'node --conditions=@scaleout/source --import tsx bench/proxy.ts';
  const text = `# @scaleout/proxy benchmarks\n\n${runHeader({ command, date: started })}\n\n${section.replace(/^## Proxy\n+/, '')}`;
  await writeFile(fileURLToPath(new URL('../docs/proxy-benchmarks.md', import.meta.url)), text);
  process.stdout.write(text);
}
