import { isIP } from 'node:net';
import { refuse } from './errors.js';

/** An HTTP endpoint: a base URL that requests are made against. */
export interface UrlEndpointOptions {
  /** Base URL, `http:` or `https:`; a path in it is kept as a prefix. */
  url: string;
  /** Stable identity (hashing, stats, admin). @default the url as given */
  id?: string;
  /** Relative share of traffic for the weighted algorithms; a number above 0. @default 1 */
  weight?: number;
}

/** An endpoint that is only an address (a TCP service): a host and a port, no URL. */
export interface AddressEndpointOptions {
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  /** TCP port, 1–65535. */
  port: number;
  /** Stable identity (hashing, stats, admin). @default "host:port" ("[v6]:port") */
  id?: string;
  /** Relative share of traffic for the weighted algorithms; a number above 0. @default 1 */
  weight?: number;
}

/** How an endpoint is described in a list: a URL (HTTP), or a host and a port. */
export type EndpointOptions = UrlEndpointOptions | AddressEndpointOptions;

/** Where an endpoint is reached: every endpoint has one, a URL endpoint from its URL. */
export interface EndpointAddress {
  /** Host name or IP address, IPv6 without brackets. */
  host: string;
  /** TCP port. */
  port: number;
}

/** `host:port`, with brackets around an IPv6 address. */
export function formatAddress(a: EndpointAddress): string {
  return `${isIP(a.host) === 6 ? `[${a.host}]` : a.host}:${a.port}`;
}

/** What one finished call reports back through `release()`. */
export interface Outcome {
  /** False for a connection error, a timeout or a 5xx. */
  ok: boolean;
  /** Time to the response headers (or to the failure). */
  latencyMs: number;
  /** The response's status, when there is one. */
  status?: number;
  /** The call was abandoned by the caller (abort, lost hedge): counts nothing but the in-flight slot. */
  cancelled?: boolean;
}

/** A plain, JSON-able view of one endpoint. */
export interface EndpointStats {
  /** The endpoint's id, unique in its set. */
  id: string;
  /** The URL, or `host:port` for an endpoint given as an address. */
  url: string;
  /** `host:port` (`[v6]:port`). */
  address: string;
  /** The configured weight. */
  weight: number;
  /** The weight in effect now (lower during slow start). */
  effectiveWeight: number;
  /** Passed its active health checks (or has none). */
  healthy: boolean;
  /** Set aside by an admin: serves pinned clients only. */
  draining: boolean;
  /** Kept out by outlier detection. */
  ejected: boolean;
  /** May be picked for new requests. */
  available: boolean;
  /** Calls in progress. */
  inFlight: number;
  /** Calls finished. */
  requests: number;
  /** Calls that failed. */
  failures: number;
  /** Failures since the last success. */
  consecutiveFailures: number;
  /** Times ejected by outlier detection. */
  ejections: number;
  /** The latency peak EWMA in ms, or `null` before the first sample. */
  latencyEwmaMs: number | null;
}

/** Receives what an endpoint observes; the `EndpointSet` installs one. */
export interface EndpointObserver {
  /** A call on the endpoint finished. */
  onOutcome(endpoint: Endpoint, outcome: Outcome): void;
  /** The endpoint went up or down, or was drained or undrained. */
  onStateChange(endpoint: Endpoint, change: 'up' | 'down' | 'drain' | 'undrain'): void;
  /** `inFlight` changed. */
  onLoad(endpoint: Endpoint): void;
}

/** Peak-EWMA decay time constant, as Finagle's `decayTime`. */
export const DEFAULT_EWMA_DECAY_MS = 10_000;
/**
 * A failed call counts as a sample of at least this many ms, so an endpoint that refuses
 * connections in 1 ms never looks like the fastest one to least-response-time.
 */
export const FAILURE_SAMPLE_MS = 1_000;
/** Share of its weight an endpoint gets at the start of its slow-start window (Envoy's min_weight_percent). */
const SLOW_START_FLOOR = 0.1;
const MAX_WEIGHT = 1_000_000;
const MAX_ID_LENGTH = 512;


/**
 * One upstream: its identity, weight, health flags and the counters every algorithm reads.
 * Algorithms only read it; `begin()`/`release()` are the one way load is accounted.
 */
export class Endpoint {
  /** The endpoint's id, unique in its set: its URL, or the id it was given. */
  readonly id: string;
  /** Host and port, for a URL endpoint too (its port or the scheme's default). */
  readonly address: EndpointAddress;
  /** The configured weight. */
  readonly weight: number;
  /** Calls finished. */
  requests = 0;
  /** Calls that failed. */
  failures = 0;
  /** Failures since the last success. */
  consecutiveFailures = 0;
  /** Times ejected by outlier detection (drives the growing ejection time). */
  ejections = 0;
  /** Epoch ms until which outlier detection keeps this endpoint out; 0 when not ejected. */
  ejectedUntil = 0;
  /** @internal set by the owning EndpointSet */
  observer: EndpointObserver | undefined;

  #inFlight = 0;
  #healthy = true;
  #draining = false;
  #cost = 0; // peak EWMA in ms; 0 with no history
  #stamp = 0;
  #seen = false; // any latency sample yet
  #decayMs: number;
  #rampStart = 0;
  #rampEnd = 0; // 0 when not in slow start
  readonly #url: URL | undefined;
  readonly #base: string;

  constructor(options: string | EndpointOptions, field = 'endpoint', decayMs = DEFAULT_EWMA_DECAY_MS) {
    const o = typeof options === 'string' ? { url: options } : options;
    if (o === null || typeof o !== 'object') refuse(field, options, 'give a URL string, { url, id?, weight? } or { host, port, id?, weight? }');
    let url: URL | undefined;
    let address: EndpointAddress;
    if ('url' in o || !('host' in o)) {
      url = parseUrl(o.url, `${field}.url`);
      address = { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80 };
    } else {
      address = parseAddress(o, field);
    }
    const id = o.id ?? (url ? (o as UrlEndpointOptions).url : formatAddress(address));
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) refuse(`${field}.id`, o.id, `give a non-empty string of at most ${MAX_ID_LENGTH} characters`);
    const weight = o.weight ?? 1;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0 || weight > MAX_WEIGHT) {
      refuse(`${field}.weight`, o.weight, `give a number above 0 and at most ${MAX_WEIGHT}`);
    }
    this.id = id;
    this.address = address;
    this.#url = url;
    this.weight = weight;
    this.#decayMs = decayMs;
    this.#base = url ? url.origin + (url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '')) : '';
  }

  /** True for an endpoint given as a URL; false for one given as `{ host, port }`. */
  get hasUrl(): boolean {
    return this.#url !== undefined;
  }

  /**
   * The base URL of an HTTP endpoint. An endpoint given as `{ host, port }` has none: reading
   * this throws a `TypeError` (check `hasUrl`, or use `address`).
   */
  get url(): URL {
    if (!this.#url) throw this.#noUrl();
    return this.#url;
  }

  /**
   * The absolute URL for `path` (which starts with '/') on this endpoint, keeping the base URL's
   * path as a prefix. Plain concatenation, never URL resolution, so a path can't switch host.
   * Only for an endpoint with a URL (see `url`).
   */
  target(path: string): string {
    if (!this.#url) throw this.#noUrl();
    return this.#base + path;
  }

  #noUrl(): TypeError {
    return new TypeError(`endpoint ${this.id} is an address (${formatAddress(this.address)}), not a URL`);
  }

  /** What makes two endpoints of one id the same endpoint: the URL, or the address. */
  get location(): string {
    return this.#url ? this.#url.href : formatAddress(this.address);
  }

  /** Calls in progress. Setting it directly (another layer's own accounting) keeps load indexes right. */
  get inFlight(): number {
    return this.#inFlight;
  }
  /** Sets the calls in progress and keeps the set's load index right. */
  set inFlight(value: number) {
    this.#inFlight = value;
    this.observer?.onLoad(this);
  }

  /** Healthy (active checks), not ejected, not draining: may be picked for new requests. */
  get available(): boolean {
    return this.#healthy && !this.#draining && this.ejectedUntil === 0;
  }

  /** Kept out by outlier detection. */
  get ejected(): boolean {
    return this.ejectedUntil !== 0;
  }

  /** Set by the active health checker or an admin; the owning set emits 'up'/'down'. */
  get healthy(): boolean {
    return this.#healthy;
  }
  /** Marks the endpoint up or down; the owning set emits 'up'/'down'. */
  set healthy(value: boolean) {
    if (value === this.#healthy) return;
    this.#healthy = value;
    this.observer?.onStateChange(this, value ? 'up' : 'down');
  }

  /** Admin: keep serving pinned clients only (HAProxy's `drain`); never picked by an algorithm. */
  get draining(): boolean {
    return this.#draining;
  }
  /** Starts or ends draining; the owning set emits 'drain'/'undrain'. */
  set draining(value: boolean) {
    if (value === this.#draining) return;
    this.#draining = value;
    this.observer?.onStateChange(this, value ? 'drain' : 'undrain');
  }

  /** The weight the algorithms use now: ramps from 10% to 100% during slow start. */
  get effectiveWeight(): number {
    if (this.#rampEnd === 0) return this.weight;
    const now = Date.now();
    if (now >= this.#rampEnd) {
      this.#rampEnd = 0;
      return this.weight;
    }
    const share = (now - this.#rampStart) / (this.#rampEnd - this.#rampStart);
    return this.weight * Math.max(SLOW_START_FLOOR, share);
  }

  /** Epoch ms at which the current slow start ends; 0 when none runs. */
  get slowStartUntil(): number {
    return this.#rampEnd;
  }

  /** Starts a slow-start window of `durationMs` (Envoy's slow_start_window); 0 ends it. */
  startSlowStart(durationMs: number): void {
    if (durationMs <= 0) {
      this.#rampEnd = 0;
      return;
    }
    this.#rampStart = Date.now();
    this.#rampEnd = this.#rampStart + durationMs;
  }

  /**
   * Peak EWMA of latency in ms (Finagle's PeakEwma): a sample above the current cost replaces it
   * at once, a lower one blends in with weight 1 - e^(-Δt/τ), and the cost decays towards 0
   * while no sample arrives so a slow endpoint is tried again later. `undefined` without history.
   */
  latencyEwma(now = Date.now()): number | undefined {
    if (!this.#seen) return undefined;
    const dt = now - this.#stamp;
    return dt > 0 ? this.#cost * Math.exp(-dt / this.#decayMs) : this.#cost;
  }

  /** Records one latency sample into the peak EWMA. */
  observeLatency(ms: number, now = Date.now()): void {
    if (!this.#seen || ms > this.#cost) this.#cost = ms;
    else {
      const w = Math.exp(-Math.max(0, now - this.#stamp) / this.#decayMs);
      this.#cost = this.#cost * w + ms * (1 - w);
    }
    this.#stamp = now;
    this.#seen = true;
  }

  /**
   * Accounts one call: `inFlight` goes up now; the returned `release()` brings it down and records
   * the outcome (EWMA, counters, outlier detection). Calling `release()` again does nothing.
   */
  begin(): (outcome: Outcome) => void {
    this.inFlight++;
    let done = false;
    return (outcome) => {
      if (done) return;
      done = true;
      this.inFlight--;
      if (outcome?.cancelled) return;
      this.record(outcome);
    };
  }

  /** Records a finished call that was not counted in flight (e.g. a pass-through of another layer). */
  record(outcome: Outcome): void {
    const ok = outcome?.ok === true;
    const latency = Number.isFinite(outcome?.latencyMs) && outcome.latencyMs >= 0 ? outcome.latencyMs : 0;
    this.requests++;
    if (ok) {
      this.consecutiveFailures = 0;
      this.observeLatency(latency);
    } else {
      this.failures++;
      this.consecutiveFailures++;
      this.observeLatency(Math.max(latency, FAILURE_SAMPLE_MS));
    }
    this.observer?.onOutcome(this, outcome);
  }

  /** A plain, JSON-able view of the endpoint. */
  stats(): EndpointStats {
    const ewma = this.latencyEwma();
    return {
      id: this.id,
      url: this.location,
      address: formatAddress(this.address),
      weight: this.weight,
      effectiveWeight: this.effectiveWeight,
      healthy: this.#healthy,
      draining: this.#draining,
      ejected: this.ejected,
      available: this.available,
      inFlight: this.inFlight,
      requests: this.requests,
      failures: this.failures,
      consecutiveFailures: this.consecutiveFailures,
      ejections: this.ejections,
      latencyEwmaMs: ewma === undefined ? null : Math.round(ewma * 1000) / 1000,
    };
  }
}


function parseUrl(value: unknown, field: string): URL {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) refuse(field, value, 'give an http: or https: URL');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    refuse(field, value, 'give an http: or https: URL such as "http://127.0.0.1:3001"');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || url.username || url.password || url.search || url.hash) {
    refuse(field, value, 'give an http: or https: URL with a host and no credentials, query or fragment');
  }
  return url;
}

// A host is a name (RFC 1123 labels) or an IP address; anything else (a URL, a path, spaces)
// would only fail later, at connect time, far from the config that caused it.
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;

function parseAddress(o: AddressEndpointOptions, field: string): EndpointAddress {
  const { host, port } = o;
  if (typeof host !== 'string' || (isIP(host) === 0 && !HOST_NAME.test(host))) refuse(`${field}.host`, host, 'give a host name or an IP address (IPv6 without brackets)');
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) refuse(`${field}.port`, port, 'give an integer port from 1 to 65535');
  return { host, port };
}
