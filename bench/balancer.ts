/**
 * `@scaleout/balancer`: the cost of `pick()` per algorithm at 10, 100 and 1,000 endpoints;
 * consistent-hash balance and key movement beside a plain ring and jump hash (./balancer-hashing.ts);
 * tail latency with one slow endpoint against an oracle (./balancer-sim.ts); and the overhead of
 * `balancer.fetch()` over a plain `fetch()` to one endpoint.
 *
 * `npm run bench -- balancer` (the section goes to docs/benchmarks.md), or alone:
 * `node --conditions=@scaleout/source --import tsx bench/balancer.ts [--write]` (`--write` puts the section,
 * with the command and date, into docs/balancer-benchmarks.md).
 *
 * Flag: `--requests=3000` fetches per round for the overhead case.
 */
import { writeFile } from 'node:fs/promises';
import type { RequestListener } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ALGORITHMS, createAlgorithm, createBalancer, EndpointSet, type AlgorithmName, type PickContext } from '@scaleout/balancer';
import { run as runHashing } from './balancer-hashing.js';
import { runSimulation, simulationSection } from './balancer-sim.js';
import { runHeader } from './support/machine.js';
import type { BenchOptions } from './support/options.js';
import { startServerChild } from './support/server.js';
import { fmt, markdownTable, median, ratio } from './support/table.js';

const SIZES = [10, 100, 1000];
const PICK_TARGET_NS = 200;

/** The server the overhead case calls: a plain "ok". Served in a child process. */
export function okApp(): RequestListener {
  return (_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('ok');
  };
}

/** CPU nanoseconds per call of `fn` over `n` calls (CPU time holds up better than wall time on a busy machine). */
function cpuNsPerOp(n: number, fn: (i: number) => void): number {
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) fn(i);
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / n;
}

interface PickRow {
  algorithm: AlgorithmName;
  pick: number[];
  cycle: number[];
}

/** pick() alone, and pick() + begin() + release() (where least-connections pays for its load heap). */
function measurePicks(): PickRow[] {
  const rows: PickRow[] = ALGORITHMS.map((algorithm) => ({ algorithm, pick: [], cycle: [] }));
  const keys: PickContext[] = Array.from({ length: 4096 }, (_, i) => ({ hashKey: `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}` }));
  for (const size of SIZES) {
    const set = new EndpointSet(
      Array.from({ length: size }, (_, i) => ({ url: `http://10.0.${i >> 8}.${i & 255}:8080`, weight: 1 + (i % 3) })),
      { outlier: false },
    );
    for (const ep of set.all()) ep.observeLatency(5 + (ep.weight * 7) % 11);
    const candidates = set.candidates();
    for (const row of rows) {
      const algo = createAlgorithm(row.algorithm);
      const pickOnly = (i: number) => void algo.pick(candidates, keys[i & 4095]);
      const full = (i: number) => algo.pick(candidates, keys[i & 4095])!.begin()({ ok: true, latencyMs: 5 });
      cpuNsPerOp(200_000, pickOnly); // warm-up
      cpuNsPerOp(100_000, full);
      row.pick.push(median([1, 2, 3, 4, 5].map(() => cpuNsPerOp(500_000, pickOnly))));
      row.cycle.push(median([1, 2, 3].map(() => cpuNsPerOp(200_000, full))));
    }
    void set.close();
  }
  return rows;
}

interface Overhead {
  /** Wall-clock µs per request. */
  plainUs: number;
  balancerUs: number;
  /** CPU µs per request in this (the client) process. */
  plainCpuUs: number;
  balancerCpuUs: number;
}

/** Sequential GETs to one endpoint: plain fetch vs balancer.fetch, rounds alternating, medians. */
async function measureFetch(requests: number): Promise<Overhead> {
  await using server = await startServerChild({ module: fileURLToPath(import.meta.url), export: 'okApp' });
  const lb = createBalancer({ endpoints: [server.url] });
  const url = `${server.url}/`;
  const plain = async () => void (await (await fetch(url)).text());
  const balanced = async () => void (await (await lb.fetch('/')).text());
  const time = async (call: () => Promise<void>): Promise<[number, number]> => {
    const cpu = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < requests; i++) await call();
    const used = process.cpuUsage(cpu);
    return [Number(process.hrtime.bigint() - t0) / 1000 / requests, (used.user + used.system) / requests];
  };
  await time(plain);
  await time(balanced);
  const p: Array<[number, number]> = [];
  const b: Array<[number, number]> = [];
  for (let r = 0; r < 5; r++) {
    p.push(await time(plain));
    b.push(await time(balanced));
  }
  await lb.close();
  return {
    plainUs: median(p.map((x) => x[0])),
    balancerUs: median(b.map((x) => x[0])),
    plainCpuUs: median(p.map((x) => x[1])),
    balancerCpuUs: median(b.map((x) => x[1])),
  };
}

export async function run(options: BenchOptions = {}): Promise<string> {
  const requests = Number(options.flags?.requests ?? 3000);
  const picks = measurePicks();
  const pickTable = markdownTable(
    ['algorithm', ...SIZES.map((n) => `pick() ns, ${n.toLocaleString('en-US')}`), `pick + begin + release ns, 100`, `under ${PICK_TARGET_NS} ns at 100`],
    picks.map((r) => [r.algorithm, ...r.pick.map((v) => fmt(v, 0)), fmt(r.cycle[1], 0), r.pick[1]! < PICK_TARGET_NS ? 'yes' : 'no']),
  );
  const hashing = await runHashing();
  const simulated = runSimulation();
  const lrt = simulated.find((r) => r.name.startsWith('least response time'))!;
  const oracle = simulated[simulated.length - 1]!;
  const overhead = await measureFetch(requests);
  const fetchTable = markdownTable(
    ['client', 'client CPU µs per request', 'CPU overhead', 'wall µs per request'],
    [
      ['plain fetch()', fmt(overhead.plainCpuUs, 1), '–', fmt(overhead.plainUs, 0)],
      [
        'balancer.fetch() (least-response-time, retries on)',
        fmt(overhead.balancerCpuUs, 1),
        `${fmt(overhead.balancerCpuUs - overhead.plainCpuUs, 1)} µs (${ratio(overhead.balancerCpuUs, overhead.plainCpuUs)})`,
        fmt(overhead.balancerUs, 0),
      ],
    ],
  );
  return [
    '## Balancer',
    '',
    '### pick() cost',
    '',
    `CPU time per call, median of rounds, on the set's own candidate list (weights 1, 2, 3 in turn; ip-hash with 4,096 different keys). Target: under ${PICK_TARGET_NS} ns at 100 endpoints.`,
    '',
    pickTable,
    '',
    'Least connections reads its minimum from a heap that `begin()`/`release()` keep up to date (O(log n) per change), so its cost shows in the last column rather than in pick().',
    '',
    hashing.trim(),
    '',
    simulationSection(simulated).trim(),
    '',
    '### fetch() overhead',
    '',
    `${requests.toLocaleString('en-US')} sequential GETs per round to one endpoint (a node:http server answering "ok" in its own process), keep-alive, 5 rounds alternating, medians. CPU time of the client process is the figure to read; wall time moves with whatever else the machine runs.`,
    '',
    fetchTable,
    '',
    '### Targets',
    '',
    `- pick() under ${PICK_TARGET_NS} ns at 100 endpoints for every algorithm: ${picks.every((r) => r.pick[1]! < PICK_TARGET_NS) ? 'met' : 'not met'} (slowest: ${fmt(Math.max(...picks.map((r) => r.pick[1]!)), 0)} ns).`,
    `- least response time p99 within 1.2× the oracle: ${lrt.p99 <= 1.2 * oracle.p99 ? 'met' : 'not met'} (${ratio(lrt.p99, oracle.p99)}).`,
    '',
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const write = process.argv.includes('--write');
  const started = new Date();
  const section = await run({ flags: Object.fromEntries(process.argv.slice(2).filter((a) => a.startsWith('--requests=')).map((a) => ['requests', a.split('=')[1]!])) });
  const header = runHeader({ command: `node --conditions=@scaleout/source --import tsx bench/balancer.ts${write ? ' --write' : ''}`, date: started });
  const text = section.replace('## Balancer\n', `## Balancer\n\n${header}`);
  process.stdout.write(`${text}\n`);
  if (write) {
    const doc = fileURLToPath(new URL('../docs/balancer-benchmarks.md', import.meta.url));
    const note = '<!-- Written by `node --conditions=@scaleout/source --import tsx bench/balancer.ts --write`; `npm run bench -- balancer` writes the same section into docs/benchmarks.md. -->';
    await writeFile(doc, `${note}\n\n${text}\n`);
    process.stderr.write('written to docs/balancer-benchmarks.md\n');
  }
}
