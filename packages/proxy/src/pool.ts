import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { createAlgorithm, EndpointSet, HealthChecker, type Algorithm, type AlgorithmName, type Endpoint, type EndpointStats } from '@scaleout/balancer';
import { targetAddress, type ProxyConfig } from './config.js';

const debug = debuglog('scaleout:proxy-pool');

/** Per-target counters of stickiness, beside the balancer's own stats. */
export interface PinStats {
  /** Requests that arrived with a valid cookie for this target and were served by it. */
  pinned: number;
  /** Requests that this target took over from a pinned target that was down (HAProxy `redispatch`). */
  redispatched: number;
  /** Requests without a usable cookie that this target was chosen for: new pins. */
  fresh: number;
}

/** A target as the status page and `stats()` show it. */
export interface TargetStats extends EndpointStats {
  /** `up`, `down` (failed its active checks), `drain` (drained by an admin) or `ejected` (by the passive checks). */
  state: 'up' | 'down' | 'drain' | 'ejected';
  /** How the target's requests came to it: by pin or as new pins. */
  pins: PinStats;
}

/**
 * The proxy's targets: a balancer `EndpointSet` with its health checker and the algorithm for
 * unpinned requests. Choosing honours a pin first: a pinned client stays on its node while the
 * node is healthy (even while it drains) and is re-dispatched once it is not.
 * Events: `up`, `down` (with the target id).
 */
export class TargetPool extends EventEmitter {
  readonly set: EndpointSet;
  #algorithm: Algorithm;
  readonly #checker: HealthChecker | undefined;
  readonly #pins = new Map<string, PinStats>();
  readonly #caps = new Map<string, number>();
  readonly #configured = new Map<string, string>();

  constructor(config: ProxyConfig) {
    super();
    // A TCP target is an address, not a URL: the balancer takes it as { host, port }.
    const list = config.targets.map((t) => (config.mode === 'tcp' ? { id: t.id, ...targetAddress(t.url), weight: t.weight } : { id: t.id, url: t.url, weight: t.weight }));
    this.set = new EndpointSet(list, {
      // As HAProxy, not Envoy: a node believed down is never tried, so all down is a 503 at once.
      panicThreshold: 0,
      outlier: { consecutiveFailures: config.passive.consecutiveErrors, baseEjectionTime: config.passive.ejectTime },
    });
    for (const t of config.targets) {
      this.#configured.set(t.id, t.url);
      this.#pins.set(t.id, { pinned: 0, redispatched: 0, fresh: 0 });
      this.#caps.set(t.id, t.maxConnections);
    }
    this.#algorithm = createAlgorithm(config.algorithm);
    const hc = config.healthCheck;
    // At L4 a node's port may not speak HTTP: a connect accepted within the timeout passes.
    if (hc.enabled) {
      this.#checker = new HealthChecker(this.set, {
        type: config.mode === 'tcp' ? 'connect' : 'http',
        path: hc.path,
        interval: hc.interval,
        timeout: hc.timeout,
        rise: hc.rise,
        fall: hc.fall,
      });
    }
    this.set.on('up', (ep: Endpoint) => {
      debug('%s up', ep.id);
      this.emit('up', ep.id);
    });
    this.set.on('down', (ep: Endpoint) => {
      debug('%s down', ep.id);
      this.emit('down', ep.id);
    });
  }

  /** Starts the active health checks. */
  start(): void {
    this.#checker?.start();
  }

  /** The algorithm for unpinned requests. */
  get algorithm(): AlgorithmName {
    return this.#algorithm.name;
  }

  /** Switches the algorithm at run time; pins are not affected. */
  setAlgorithm(name: string): void {
    // createAlgorithm refuses an unknown name with a coded error naming the field.
    this.#algorithm = createAlgorithm(name as AlgorithmName);
  }

  /** Admin: `drain` serves pinned clients only; `enable` takes new clients again. Returns false for an unknown id. */
  setDraining(id: string, draining: boolean): boolean {
    const ep = this.set.get(id);
    if (!ep) return false;
    ep.draining = draining;
    return true;
  }

  /**
   * The endpoint for a request: its pinned node while that node is healthy and not ejected,
   * else the algorithm's pick among available nodes not yet `tried`. `undefined`: none left.
   */
  choose(pinnedTo: string | undefined, hashKey: string, tried: ReadonlySet<string>): Endpoint | undefined {
    if (pinnedTo !== undefined && !tried.has(pinnedTo)) {
      const ep = this.set.get(pinnedTo);
      if (ep && ep.healthy && !ep.ejected) return ep;
    }
    let candidates = this.set.candidates();
    if (tried.size) candidates = candidates.filter((ep) => !tried.has(ep.id));
    if (candidates.length === 0) return undefined;
    return this.#algorithm.pick(candidates, { hashKey });
  }

  /**
   * As `choose()`, for a connection of its own (a WebSocket or TCP tunnel): a node already
   * holding its `maxConnections` is passed over (added to `tried`) for the next one.
   */
  chooseWithRoom(pinnedTo: string | undefined, hashKey: string, tried: Set<string>): Endpoint | undefined {
    for (;;) {
      const ep = this.choose(pinnedTo, hashKey, tried);
      if (!ep || ep.inFlight < this.#caps.get(ep.id)!) return ep;
      debug('%s is full (%d connections)', ep.id, ep.inFlight);
      tried.add(ep.id);
    }
  }

  /** Counts how a served request related to its pin. */
  count(servedBy: string, pinnedTo: string | undefined): void {
    const p = this.#pins.get(servedBy);
    if (!p) return;
    if (pinnedTo === servedBy) p.pinned++;
    else if (pinnedTo !== undefined) p.redispatched++;
    else p.fresh++;
  }

  /** Every target with its state and counters. */
  stats(): TargetStats[] {
    return this.set.all().map((ep) => {
      const s = ep.stats();
      const state = !s.healthy ? 'down' : s.ejected ? 'ejected' : s.draining ? 'drain' : 'up';
      // A TCP target shows the tcp:// URL it was configured with, not the balancer's host:port.
      const url = ep.hasUrl ? s.url : (this.#configured.get(ep.id) ?? s.url);
      return { ...s, url, state, pins: { ...this.#pins.get(ep.id)! } };
    });
  }

  /** Stops the health checker. Safe to call twice. */
  async close(): Promise<void> {
    await this.#checker?.close();
    await this.set.close();
  }
}
