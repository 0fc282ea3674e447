/**
 * Tail latency with one slow endpoint, simulated on a virtual clock so that the result does not
 * depend on how busy the machine is. Each endpoint is a server with `workers` parallel slots and
 * a FIFO queue; service times are shifted-exponential (half fixed, half random) with a mean of
 * `fastMs`, or `slow ×` that on endpoint 0. Requests arrive as a Poisson stream at `load` × the
 * capacity of the fast endpoints. The balancer's own algorithms choose, on real `Endpoint`
 * objects (in-flight counts, peak EWMA fed with the simulated latencies); the oracle knows every
 * endpoint's true speed and queue and sends each request where it will finish first.
 *
 * `npm run bench -- balancer-sim` or `node --conditions=@scaleout/source --import tsx bench/balancer-sim.ts`.
 */
import { pathToFileURL } from 'node:url';
import { createAlgorithm, EndpointSet, type AlgorithmName, type Endpoint } from '@scaleout/balancer';
import { seeded as prng } from '../packages/balancer/test/helpers.js';
import { fmt, markdownTable, ratio } from './support/table.js';

export interface SimOptions {
  endpoints?: number;
  workers?: number;
  fastMs?: number;
  /** How many times slower endpoint 0 is. */
  slow?: number;
  /** Offered load as a share of the fast endpoints' capacity. */
  load?: number;
  requests?: number;
  seed?: number;
}

export interface SimResult {
  name: string;
  p50: number;
  p99: number;
  p999: number;
  slowShare: number;
}

const DEFAULTS: Required<SimOptions> = { endpoints: 10, workers: 4, fastMs: 10, slow: 10, load: 0.7, requests: 200_000, seed: 7 };

interface Job {
  arrival: number;
  service: number;
  server: number;
}

/** A binary min-heap of [time, job] for completions. */
class Events {
  #t: number[] = [];
  #j: Job[] = [];
  get size(): number {
    return this.#t.length;
  }
  peek(): number {
    return this.#t[0]!;
  }
  push(t: number, j: Job): void {
    const ts = this.#t;
    const js = this.#j;
    let i = ts.length;
    ts.push(t);
    js.push(j);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (ts[p]! <= t) break;
      ts[i] = ts[p]!;
      js[i] = js[p]!;
      i = p;
    }
    ts[i] = t;
    js[i] = j;
  }
  pop(): [number, Job] {
    const ts = this.#t;
    const js = this.#j;
    const top: [number, Job] = [ts[0]!, js[0]!];
    const t = ts.pop()!;
    const j = js.pop()!;
    if (ts.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= ts.length) break;
        const c = l + 1 < ts.length && ts[l + 1]! < ts[l]! ? l + 1 : l;
        if (ts[c]! >= t) break;
        ts[i] = ts[c]!;
        js[i] = js[c]!;
        i = c;
      }
      ts[i] = t;
      js[i] = j;
    }
    return top;
  }
}

type Chooser = (eps: readonly Endpoint[], state: { inSystem: Int32Array }) => number;

function simulate(name: string, choose: Chooser, set: EndpointSet, o: Required<SimOptions>, clock: { now: number }): SimResult {
  const rnd = prng(o.seed);
  const eps = set.candidates();
  const mean = eps.map((_, i) => (i === 0 ? o.fastMs * o.slow : o.fastMs));
  const busy = new Int32Array(eps.length);
  const inSystem = new Int32Array(eps.length);
  const queues: Job[][] = eps.map(() => []);
  const events = new Events();
  const rate = (o.load * (eps.length - 1) * o.workers) / o.fastMs; // arrivals per ms
  const latencies = new Float64Array(o.requests);
  let done = 0;
  let slowCount = 0;
  let t = 0;
  const warmup = Math.floor(o.requests / 10);

  const start = (job: Job, at: number): void => {
    busy[job.server]!++;
    events.push(at + job.service, job);
  };
  const complete = (): void => {
    const [at, job] = events.pop();
    clock.now = at;
    const s = job.server;
    busy[s]!--;
    inSystem[s]!--;
    const ep = eps[s]!;
    ep.inFlight--;
    ep.observeLatency(at - job.arrival, at);
    latencies[done++] = at - job.arrival;
    const next = queues[s]!.shift();
    if (next) start(next, at);
  };

  for (let i = 0; i < o.requests; i++) {
    t += -Math.log(1 - rnd()) / rate;
    while (events.size > 0 && events.peek() <= t) complete();
    clock.now = t;
    const s = choose(eps, { inSystem });
    const m = mean[s]!;
    const job: Job = { arrival: t, service: m / 2 + (-Math.log(1 - rnd()) * m) / 2, server: s };
    if (i >= warmup && s === 0) slowCount++;
    inSystem[s]!++;
    eps[s]!.inFlight++;
    if (busy[s]! < o.workers) start(job, t);
    else queues[s]!.push(job);
  }
  while (events.size > 0) complete();
  const measured = latencies.slice(warmup).sort();
  const q = (p: number) => measured[Math.min(measured.length - 1, Math.floor(p * measured.length))]!;
  return { name, p50: q(0.5), p99: q(0.99), p999: q(0.999), slowShare: slowCount / (o.requests - warmup) };
}

/** Runs every algorithm and the oracle on the same arrivals. */
export function runSimulation(options: SimOptions = {}): SimResult[] {
  const o = { ...DEFAULTS, ...options };
  const results: SimResult[] = [];
  const urls = Array.from({ length: o.endpoints }, (_, i) => `http://10.0.0.${i + 1}:80`);
  const algorithms: Array<[string, AlgorithmName]> = [
    ['round robin', 'round-robin'],
    ['least connections', 'least-connections'],
    ['least response time (peak EWMA, P2C)', 'least-response-time'],
  ];
  for (const [label, name] of algorithms) {
    const clock = { now: 0 };
    const set = new EndpointSet(urls, { outlier: false });
    const algo = createAlgorithm(name, { random: prng(o.seed + 1), now: () => clock.now });
    results.push(simulate(label, (eps) => set.candidates().indexOf(algo.pick(eps)!), set, o, clock));
    void set.close();
  }
  const set = new EndpointSet(urls, { outlier: false });
  const tie = prng(o.seed + 2);
  const oracle: Chooser = (eps, { inSystem }) => {
    let best = 0;
    let bestCost = Infinity;
    for (let i = 0; i < eps.length; i++) {
      const m = i === 0 ? o.fastMs * o.slow : o.fastMs;
      const waiting = Math.max(0, inSystem[i]! - o.workers + 1);
      const cost = m * (1 + waiting / o.workers) + tie() * 1e-9;
      if (cost < bestCost) {
        bestCost = cost;
        best = i;
      }
    }
    return best;
  };
  results.push(simulate('oracle (knows true speeds and queues)', oracle, set, o, { now: 0 }));
  void set.close();
  return results;
}

/** The markdown for `results` (the oracle last). */
export function simulationSection(results: SimResult[], o: Required<SimOptions> = DEFAULTS): string {
  const oracle = results[results.length - 1]!;
  const rows = results.map((r) => [r.name, fmt(r.p50, 1), fmt(r.p99, 1), fmt(r.p999, 1), ratio(r.p99, oracle.p99), `${(r.slowShare * 100).toFixed(1)}%`]);
  return [
    '### Tail latency with one slow endpoint (simulation)',
    '',
    `${o.endpoints} endpoints × ${o.workers} workers, service time mean ${o.fastMs} ms (endpoint 0: ${o.slow}× slower), ` +
      `Poisson arrivals at ${o.load * 100}% of the fast endpoints' capacity, ${o.requests.toLocaleString('en-US')} requests (first 10% not counted), virtual clock.`,
    '',
    markdownTable(['algorithm', 'p50 ms', 'p99 ms', 'p99.9 ms', 'p99 vs oracle', 'share sent to the slow one'], rows),
    '',
    'Round robin sends the slow endpoint a tenth of the traffic, more than it can serve, so its queue grows for the whole run: that is the tail the load-aware algorithms avoid.',
    '',
  ].join('\n');
}

export async function run(): Promise<string> {
  return simulationSection(runSimulation());
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.stdout.write(`${await run()}\n`);
