import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { withDefaults } from './defaults.js';
import { parseDuration, type Duration } from './duration.js';
import { DEFAULT_EWMA_DECAY_MS, Endpoint, type EndpointObserver, type EndpointOptions, type Outcome } from './endpoint.js';
import { BalancerConfigError, refuse } from './errors.js';
import { LoadIndex } from './load-index.js';
import { OutlierDetector, type OutlierOptions } from './outlier-detector.js';

const debug = debuglog('scaleout:balancer:set');

/** Options of an `EndpointSet`. */
export interface EndpointSetOptions {
  /**
   * When fewer than this share of the non-draining endpoints is available, pick among all of them
   * (Envoy's panic threshold): better to try hosts believed down than to pile on the survivors.
   * 0 turns panic mode off. @default 0.5
   */
  panicThreshold?: number;
  /** Passive outlier ejection; `false` turns it off. @default DEFAULT_OUTLIER (5 failures, 30 s, 300 s, 10%) */
  outlier?: OutlierOptions | false;
  /** Ramp a new (or recovered) endpoint's weight up over this long; weighted algorithms honour it. 0 is off. @default 0 */
  slowStart?: Duration;
  /** Time constant of the latency peak EWMA. @default '10s' */
  ewmaDecay?: Duration;
}

/** Defaults of {@link EndpointSetOptions}. */
export const DEFAULT_ENDPOINT_SET: Required<Omit<EndpointSetOptions, 'outlier'>> = {
  panicThreshold: 0.5,
  slowStart: 0,
  ewmaDecay: DEFAULT_EWMA_DECAY_MS,
};

/** Events an `EndpointSet` emits, each with the `Endpoint`. */
export type EndpointSetEvent = 'add' | 'remove' | 'up' | 'down' | 'eject' | 'uneject' | 'drain' | 'undrain';

const MAX_ENDPOINTS = 10_000;

/**
 * Tag on a set's candidate array: a function returning its least-loaded endpoint from a load
 * index, or undefined when the index can't answer (slow start running). Lets least-connections
 * skip its O(n) scan for the arrays a set hands out, while staying correct for any other array.
 */
export const LEAST_LOADED: unique symbol = Symbol('scaleout.balancer.leastLoaded');

/** A candidate array as `EndpointSet.candidates()` returns it. */
export type TaggedCandidates = readonly Endpoint[] & {
  /** The least-loaded candidate, or `undefined` when the index cannot tell. */
  [LEAST_LOADED]?: () => Endpoint | undefined;
};

/**
 * The live set of endpoints: membership (add/remove/replace), health and ejection state, slow start,
 * and the candidate list the algorithms pick from. Emits 'add', 'remove', 'up', 'down', 'eject',
 * 'uneject', 'drain', 'undrain' with the `Endpoint`, and 'panic' with a boolean.
 */
export class EndpointSet extends EventEmitter implements EndpointObserver {
  /** Share of available endpoints below which every endpoint becomes a candidate. */
  readonly panicThreshold: number;
  /** Slow-start window in ms; 0 turns it off. */
  readonly slowStartMs: number;
  /** The outlier detector, when outlier detection is on. */
  readonly outlier: OutlierDetector | undefined;
  readonly #decayMs: number;
  #endpoints = new Map<string, Endpoint>();
  #all: readonly Endpoint[] = [];
  #candidates: readonly Endpoint[] | undefined;
  #loadIndex: LoadIndex | undefined;
  #rampUntil = 0;
  #panic = false;
  #closed = false;

  constructor(endpoints: Array<string | EndpointOptions>, options: EndpointSetOptions = {}) {
    super();
    if (!Array.isArray(endpoints)) refuse('endpoints', endpoints, 'give an array of URLs or { url, id?, weight? }');
    if (endpoints.length > MAX_ENDPOINTS) refuse('endpoints', `${endpoints.length} endpoints`, `give at most ${MAX_ENDPOINTS}`);
    if (options === null || typeof options !== 'object') refuse('options', options, 'give an object');
    const o = withDefaults(DEFAULT_ENDPOINT_SET, options);
    if (typeof o.panicThreshold !== 'number' || !(o.panicThreshold >= 0 && o.panicThreshold <= 1)) {
      refuse('panicThreshold', o.panicThreshold, 'give a share from 0 to 1');
    }
    this.panicThreshold = o.panicThreshold;
    this.slowStartMs = parseDuration(o.slowStart, 'slowStart');
    this.#decayMs = parseDuration(o.ewmaDecay, 'ewmaDecay');
    if (this.#decayMs < 1) refuse('ewmaDecay', o.ewmaDecay, 'give at least 1 ms');
    if (options.outlier !== false) {
      if (options.outlier !== undefined && (options.outlier === null || typeof options.outlier !== 'object')) {
        refuse('outlier', options.outlier, 'give an object or false');
      }
      this.outlier = new OutlierDetector({ all: () => this.#all, ejectionChanged: (ep, out) => this.#ejectionChanged(ep, out) }, options.outlier);
    }
    endpoints.forEach((e, i) => this.#insert(e, `endpoints[${i}]`, false));
  }

  /** Adds an endpoint at run time (it goes through slow start when configured). Its id must be new. */
  add(e: string | EndpointOptions): Endpoint {
    return this.#insert(e, 'endpoint', true);
  }

  /** Removes an endpoint; calls in flight on it finish normally. */
  remove(id: string): boolean {
    const ep = this.#endpoints.get(id);
    if (!ep) return false;
    this.#endpoints.delete(id);
    ep.observer = undefined;
    this.outlier?.forget(ep);
    this.#changed();
    debug('removed %s', id);
    this.emit('remove', ep);
    return true;
  }

  /**
   * Makes the set equal to `list` (discovery): new ids are added, missing ones removed, and an id
   * whose url or weight changed is replaced. Endpoints that stay keep their counters and state.
   */
  replace(list: Array<string | EndpointOptions>): {
    /** Endpoints new to the set. */
    added: Endpoint[];
    /** Endpoints no longer in the list, taken out of the set. */
    removed: Endpoint[];
  } {
    if (!Array.isArray(list)) refuse('endpoints', list, 'give an array of URLs or { url, id?, weight? }');
    if (list.length > MAX_ENDPOINTS) refuse('endpoints', `${list.length} endpoints`, `give at most ${MAX_ENDPOINTS}`);
    const next = new Map<string, Endpoint>();
    list.forEach((e, i) => {
      const ep = new Endpoint(e, `endpoints[${i}]`, this.#decayMs);
      if (next.has(ep.id)) throw new BalancerConfigError(`endpoints[${i}].id`, `endpoints[${i}].id: ${JSON.stringify(ep.id)} appears twice; ids must be unique`);
      next.set(ep.id, ep);
    });
    const removed: Endpoint[] = [];
    const added: Endpoint[] = [];
    for (const ep of this.#all) {
      const want = next.get(ep.id);
      if (!want || want.location !== ep.location || want.weight !== ep.weight) {
        this.remove(ep.id);
        removed.push(ep);
      }
    }
    for (const ep of next.values()) if (!this.#endpoints.has(ep.id)) added.push(this.#adopt(ep, true));
    return { added, removed };
  }

  /** The endpoint with this id, if the set has it. */
  get(id: string): Endpoint | undefined {
    return this.#endpoints.get(id);
  }

  /** Every endpoint, whatever its state, in insertion order. */
  all(): readonly Endpoint[] {
    return this.#all;
  }

  /** How many endpoints the set holds, whatever their state. */
  get size(): number {
    return this.#all.length;
  }

  /** True while fewer than `panicThreshold` of the endpoints are available. */
  get panic(): boolean {
    return this.#panic;
  }

  /**
   * The endpoints an algorithm may pick: the available ones, or every non-draining one while
   * panicking. The same array is returned until something changes, so algorithms can cache
   * per-list state (hash tables, weights) by identity. Treat it as read-only. (It is not frozen:
   * V8 reads frozen arrays several times slower, and pick() walks this array.)
   */
  candidates(): readonly Endpoint[] {
    if (this.#candidates) return this.#candidates;
    const eligible = this.#all.filter((ep) => !ep.draining);
    const available = eligible.filter((ep) => ep.available);
    const panic = eligible.length > 0 && available.length < this.panicThreshold * eligible.length;
    const list: TaggedCandidates = panic ? eligible : available;
    this.#candidates = list;
    this.#loadIndex = undefined;
    this.#rampUntil = 0;
    for (const ep of list) this.#rampUntil = Math.max(this.#rampUntil, ep.slowStartUntil);
    Object.defineProperty(list, LEAST_LOADED, { value: () => this.#leastLoaded(list) });
    if (panic !== this.#panic) {
      this.#panic = panic;
      debug('panic %s: %d of %d available', panic ? 'on' : 'off', available.length, eligible.length);
      this.emit('panic', panic);
    }
    return this.#candidates;
  }

  /** @internal called by endpoints */
  onOutcome(ep: Endpoint, outcome: Outcome): void {
    this.outlier?.onOutcome(ep, outcome);
  }

  /** @internal called by endpoints */
  onLoad(ep: Endpoint): void {
    this.#loadIndex?.update(ep);
  }

  /** @internal called by endpoints */
  onStateChange(ep: Endpoint, change: 'up' | 'down' | 'drain' | 'undrain'): void {
    if (change === 'up' && this.slowStartMs > 0) ep.startSlowStart(this.slowStartMs);
    this.#changed();
    debug('%s %s', ep.id, change);
    this.emit(change, ep);
  }

  /** Stops ejection timers. Endpoints keep their state; safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.outlier?.close();
  }

  /** Closes the set, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The least-loaded endpoint of `list` by the load index, built on first use; undefined during slow start. */
  #leastLoaded(list: readonly Endpoint[]): Endpoint | undefined {
    if (list !== this.#candidates) return undefined;
    if (this.#rampUntil !== 0) {
      if (Date.now() < this.#rampUntil) return undefined;
      this.#rampUntil = 0;
      this.#loadIndex = undefined; // built with ramping weights
    }
    this.#loadIndex ??= new LoadIndex(list);
    return this.#loadIndex.min();
  }

  #insert(e: string | EndpointOptions, field: string, runtime: boolean): Endpoint {
    if (this.#endpoints.size >= MAX_ENDPOINTS) refuse(field, e, `the set already holds ${MAX_ENDPOINTS} endpoints`);
    return this.#adopt(new Endpoint(e, field, this.#decayMs), runtime, field);
  }

  #adopt(ep: Endpoint, runtime: boolean, field = 'endpoint'): Endpoint {
    if (this.#endpoints.has(ep.id)) throw new BalancerConfigError(`${field}.id`, `${field}.id: ${JSON.stringify(ep.id)} is already in the set; ids must be unique`);
    this.#endpoints.set(ep.id, ep);
    ep.observer = this;
    if (runtime && this.slowStartMs > 0) ep.startSlowStart(this.slowStartMs);
    this.#changed();
    debug('added %s', ep.id);
    this.emit('add', ep);
    return ep;
  }

  #ejectionChanged(ep: Endpoint, ejected: boolean): void {
    if (!ejected && this.slowStartMs > 0) ep.startSlowStart(this.slowStartMs);
    this.#changed();
    this.emit(ejected ? 'eject' : 'uneject', ep);
  }

  /** Recomputes the lists at once (not on the next pick) so that 'panic' is emitted when it happens. */
  #changed(): void {
    this.#all = [...this.#endpoints.values()];
    this.#candidates = undefined;
    this.candidates();
  }
}
