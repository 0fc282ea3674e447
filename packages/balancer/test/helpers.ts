import { createBalancer, Endpoint, type Balancer, type BalancerOptions, type EndpointOptions } from '../src/index.js';
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
  /** Requests received, /healthz excluded (assign 0 to reset). */
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
        if (behaviour.delayMs > 0) setTimeout(answer, behaviour.delayMs).unref(); // a slow answer nobody waits for must not hold the test run
        else answer();
      });
      return Object.defineProperties(srv, {
        behaviour: { value: behaviour },
        hits: { get: () => state.hits, set: (n: number) => (state.hits = n) },
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

/** A loopback URL where nothing listens (a server started and closed again). */
export async function refusedUrl(): Promise<string> {
  const gone = await startHttp((_req, res) => res.end());
  await gone.close();
  return gone.url;
}


/** Makes balancers for one suite and closes every one of them in `closeAll()` (call it in afterEach). */
export function balancers(): { make(options: BalancerOptions): Balancer; closeAll(): Promise<void> } {
  const open: Balancer[] = [];
  return {
    make(options) {
      const b = createBalancer(options);
      open.push(b);
      return b;
    },
    async closeAll() {
      await Promise.all(open.splice(0).map((b) => b.close()));
    },
  };
}

/** What `useBackends()` gives a suite. */
export interface Fixture {
  /** The servers, started in `before()`. */
  backends: Backend[];
  /** A URL where nothing listens. */
  refused: string;
  /** Creates a balancer that is closed after each test. */
  make(options: BalancerOptions): Balancer;
}

/**
 * Mocha hooks for a suite that calls real servers: starts one backend per behaviour before the
 * suite, resets them before each test, closes the test's balancers after it, stops all at the end.
 */
export function useBackends(behaviours: Array<Partial<Behaviour>>): Fixture {
  const pool = balancers();
  const fx: Fixture = { backends: [], refused: '', make: pool.make };
  before(async () => {
    fx.backends = await startBackends(behaviours);
    fx.refused = await refusedUrl();
  });
  beforeEach(() => {
    fx.backends.forEach((b, i) => {
      Object.assign(b.behaviour, { delayMs: 0, status: 200, health: 200, ...behaviours[i] });
      b.methods.length = 0;
      b.hits = 0;
    });
  });
  afterEach(() => pool.closeAll());
  after(async () => Promise.all(fx.backends.map((b) => b.close())));
  return fx;
}
