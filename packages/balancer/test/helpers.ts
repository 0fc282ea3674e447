import { Endpoint, type EndpointOptions } from '../src/index.js';
import { startHttp, type RunningServer } from '../../../test/support/index.js';

/** A seeded PRNG (mulberry32) so that random tie-breaks and choices give one exact order. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random source that returns the given values in turn, then repeats them. */
export function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

/** Endpoints named A, B, C… on fake hosts, with the given weights. */
export function endpoints(weights: number[], extra: Partial<EndpointOptions> = {}): Endpoint[] {
  return weights.map((weight, i) => new Endpoint({ url: `http://10.0.0.${i + 1}:8080`, id: String.fromCharCode(65 + i), weight, ...extra }));
}

/** Share of picks per endpoint id, in the order of `eps`. */
export function shares(picks: readonly Endpoint[], eps: readonly Endpoint[]): number[] {
  return eps.map((ep) => picks.filter((p) => p === ep).length / picks.length);
}

/** How a test backend answers; change it while the test runs. */
export interface Behaviour {
  delayMs: number;
  status: number;
  /** Answer /healthz with this status. */
  health: number;
}

export interface Backend extends RunningServer {
  behaviour: Behaviour;
  /** Requests received, /healthz excluded. */
  hits: number;
  /** Methods of those requests, in order. */
  methods: string[];
}

/** Real HTTP servers on loopback port 0, one per behaviour; their bodies name the server. */
export async function startBackends(behaviours: Array<Partial<Behaviour>>): Promise<Backend[]> {
  return Promise.all(
    behaviours.map(async (b, i) => {
      const behaviour: Behaviour = { delayMs: 0, status: 200, health: 200, ...b };
      const state = { hits: 0, methods: [] as string[] };
      const srv = await startHttp((req, res) => {
        if (req.url === '/healthz') {
          res.statusCode = behaviour.health;
          res.end();
          return;
        }
        state.hits++;
        state.methods.push(req.method ?? '');
        req.resume();
        const answer = () => {
          res.statusCode = behaviour.status;
          res.setHeader('content-type', 'text/plain');
          res.end(`backend-${i}`);
        };
        if (behaviour.delayMs > 0) setTimeout(answer, behaviour.delayMs);
        else answer();
      });
      return Object.defineProperties(srv, {
        behaviour: { value: behaviour },
        hits: { get: () => state.hits },
        methods: { get: () => state.methods },
      }) as Backend;
    }),
  );
}

/** Runs `total` calls of `call` with at most `concurrency` at a time. */
export async function drive(total: number, concurrency: number, call: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await call(next++);
    }),
  );
}
