import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { connect } from 'node:net';
import { debuglog } from 'node:util';
import { withDefaults } from './defaults.js';
import { parseDuration, type Duration } from './duration.js';
import type { Endpoint } from './endpoint.js';
import type { EndpointSet } from './endpoint-set.js';
import { refuse } from './errors.js';

const debug = debuglog('scaleout:balancer:health');

/** Active health checks: an HTTP GET (or a TCP connect) per endpoint per interval. */
export interface HealthCheckOptions {
  /**
   * `http`: a GET of `path` passes with a 2xx or 3xx answer. `connect`: a TCP connection accepted
   * within the timeout passes, for endpoints that do not speak HTTP (HAProxy `check` in `mode tcp`).
   * @default 'http'
   */
  type?: 'http' | 'connect';
  /** Path probed on each endpoint (after the endpoint's own base path). @default '/healthz' */
  path?: string;
  /** Time between two probes of an endpoint. @default '5s' */
  interval?: Duration;
  /** A probe without response headers within this is a failure. @default '1s' */
  timeout?: Duration;
  /** Consecutive passes that bring a down endpoint back up. @default 2 */
  rise?: number;
  /** Consecutive failures that take an up endpoint down. @default 2 */
  fall?: number;
}

/** Defaults of {@link HealthCheckOptions}. */
export const DEFAULT_HEALTH_CHECK: Required<HealthCheckOptions> = {
  type: 'http',
  path: '/healthz',
  interval: '5s',
  timeout: '1s',
  rise: 2,
  fall: 2,
};

interface ProbeState {
  passes: number;
  fails: number;
  running: boolean;
}

/**
 * Probes every endpoint of a set, as HAProxy's `check inter … rise … fall …`: a 2xx or 3xx answer
 * passes; `fall` failures in a row set `endpoint.healthy = false`, `rise` passes set it back (the
 * set emits 'down'/'up'). Endpoints start healthy. Probes use their own keep-alive agent, which
 * `close()` destroys together with the timer.
 */
export class HealthChecker {
  /** `http`: a GET of `path`; `connect`: a TCP connection. */
  readonly type: 'http' | 'connect';
  /** The path an `http` probe requests. */
  readonly path: string;
  /** Time between two probes of an endpoint, in ms. */
  readonly intervalMs: number;
  /** How long a probe may take, in ms. */
  readonly timeoutMs: number;
  /** Consecutive passes that bring a down endpoint up. */
  readonly rise: number;
  /** Consecutive failures that take an up endpoint down. */
  readonly fall: number;
  readonly #set: EndpointSet;
  readonly #state = new Map<Endpoint, ProbeState>();
  readonly #http = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  readonly #https = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
  readonly #pending = new Set<Promise<void>>();
  readonly #forget = (ep: Endpoint): void => void this.#state.delete(ep);
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(set: EndpointSet, options: HealthCheckOptions = {}, field = 'healthCheck') {
    if (options === null || typeof options !== 'object') refuse(field, options, 'give an object');
    const o = withDefaults(DEFAULT_HEALTH_CHECK, options);
    if (typeof o.path !== 'string' || !o.path.startsWith('/') || o.path.startsWith('//') || o.path.length > 1024 || /[\s#]/.test(o.path)) {
      refuse(`${field}.path`, o.path, "give a path that starts with '/', such as '/healthz'");
    }
    for (const key of ['rise', 'fall'] as const) {
      if (!Number.isInteger(o[key]) || o[key] < 1 || o[key] > 100) refuse(`${field}.${key}`, o[key], 'give a whole number from 1 to 100');
    }
    if (o.type !== 'http' && o.type !== 'connect') refuse(`${field}.type`, o.type, "give 'http' or 'connect'");
    this.type = o.type;
    this.path = o.path;
    this.intervalMs = parseDuration(o.interval, `${field}.interval`);
    this.timeoutMs = parseDuration(o.timeout, `${field}.timeout`);
    if (this.intervalMs < 10) refuse(`${field}.interval`, o.interval, 'give at least 10 ms');
    if (this.timeoutMs < 1) refuse(`${field}.timeout`, o.timeout, 'give at least 1 ms');
    this.rise = o.rise;
    this.fall = o.fall;
    this.#set = set;
    set.on('remove', this.#forget);
  }

  /** Starts probing: a first round at once, then one every interval. Safe to call twice. */
  start(): void {
    if (this.#closed || this.#timer) return;
    this.#tick();
  }

  /** Probes every endpoint once now and resolves when all answered (useful at start-up and in tests). */
  async checkAll(): Promise<void> {
    await Promise.all(this.#set.all().map((ep) => this.#probeAndApply(ep)));
  }

  /** Stops probing and ends the probes' connections; safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#set.off('remove', this.#forget);
    this.#http.destroy();
    this.#https.destroy();
    await Promise.allSettled([...this.#pending]);
  }

  /** Stops probing, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #tick(): void {
    if (this.#closed) return;
    for (const ep of this.#set.all()) void this.#probeAndApply(ep);
    this.#timer = setTimeout(() => this.#tick(), this.intervalMs);
  }

  #probeAndApply(ep: Endpoint): Promise<void> {
    let state = this.#state.get(ep);
    if (!state) this.#state.set(ep, (state = { passes: 0, fails: 0, running: false }));
    if (state.running || this.#closed) return Promise.resolve();
    const s = state;
    s.running = true;
    const p = this.#probe(ep).then((ok) => {
      s.running = false;
      if (this.#closed || !this.#state.has(ep)) return;
      if (ok) {
        s.passes++;
        s.fails = 0;
        if (!ep.healthy && s.passes >= this.rise) ep.healthy = true;
      } else {
        s.fails++;
        s.passes = 0;
        if (ep.healthy && s.fails >= this.fall) ep.healthy = false;
      }
    });
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
    return p;
  }

  /** One TCP connect: true when the endpoint accepts within the timeout. Never rejects. */
  #connect(ep: Endpoint): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const socket = connect(ep.address);
      const done = (ok: boolean, why?: string): void => {
        clearTimeout(timer);
        socket.destroy();
        if (!ok) debug('connect probe of %s failed: %s', ep.id, why);
        resolve(ok);
      };
      const timer = setTimeout(() => done(false, `no connection within ${this.timeoutMs} ms`), this.timeoutMs);
      socket.once('connect', () => done(true));
      socket.once('error', (err) => done(false, err.message));
    });
  }

  /** One GET: true for a 2xx/3xx answer within the timeout, false for anything else. Never rejects. */
  #probe(ep: Endpoint): Promise<boolean> {
    if (this.type === 'connect') return this.#connect(ep);
    // An address alone has no URL to GET: it can only be checked by connecting.
    if (!ep.hasUrl) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const https = ep.url.protocol === 'https:';
      const target = ep.target(this.path);
      let settled = false;
      const done = (ok: boolean, why?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!ok) debug('probe of %s failed: %s', ep.id, why);
        resolve(ok);
      };
      const req = (https ? httpsRequest : httpRequest)(target, {
        method: 'GET',
        agent: https ? this.#https : this.#http,
        headers: { 'user-agent': 'scaleout-balancer-health' },
      });
      const timer = setTimeout(() => {
        done(false, `no answer within ${this.timeoutMs} ms`);
        req.destroy();
      }, this.timeoutMs);
      req.once('response', (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        done(status >= 200 && status < 400, `status ${status}`);
      });
      req.once('error', (err) => done(false, err.message));
      req.end();
    });
  }
}
