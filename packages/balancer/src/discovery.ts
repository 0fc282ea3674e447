import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { debuglog } from 'node:util';
import { parseDuration, type Duration } from './duration.js';
import type { EndpointOptions } from './endpoint.js';
import type { EndpointSet } from './endpoint-set.js';
import { refuse } from './errors.js';

const debug = debuglog('scaleout:balancer:discovery');

type EndpointList = Array<string | EndpointOptions>;

/** A function polled on an interval; its list replaces the set's endpoints. */
export interface PollDiscovery {
  /** Returns the current endpoints: URLs, or endpoint options. */
  resolve: () => EndpointList | Promise<EndpointList>;
  /** Time between two calls. @default '30s' */
  interval?: Duration;
}

/** DNS records via node:dns, refreshed on their TTL. */
export interface DnsDiscovery {
  /** The name to resolve: a host for A records, a service name (`_http._tcp.users.local`) for SRV. */
  dns: string;
  /** A: one endpoint per address, on `port`. SRV: the lowest-priority targets, their addresses, ports and weights. @default 'A' */
  record?: 'A' | 'SRV';
  /** Port for A records. @default 80 (443 with https) */
  port?: number;
  /** Scheme of the endpoint URLs. @default 'http' */
  protocol?: 'http' | 'https';
  /** DNS servers to ask, as `host` or `host:port`. @default the system's */
  servers?: string[];
  /** Shortest time between refreshes, whatever the TTL. @default '1s' */
  minInterval?: Duration;
  /** Longest time between refreshes (and the wait after a failed lookup). @default '5m' */
  maxInterval?: Duration;
}

/** A discovery source: a static list, a polled function, or DNS. */
export type DiscoveryOptions = EndpointList | PollDiscovery | DnsDiscovery;

/** Defaults of {@link PollDiscovery} and {@link DnsDiscovery}. */
export const DEFAULT_DISCOVERY = {
  /** A polled function is called every 30 s. */
  interval: '30s',
  /** DNS is asked at most once a second. */
  minInterval: '1s',
  /** DNS is asked at least every 5 minutes. */
  maxInterval: '5m',
} as const;

/** One lookup: the endpoints and how long they may be trusted (ms). */
interface Lookup {
  list: EndpointList;
  ttlMs: number;
}

/**
 * Keeps an `EndpointSet` equal to what a source says. A failed lookup keeps the last known list
 * (a DNS outage must not empty the set) and is reported as a 'discovery-error' event on the set.
 */
export class Discovery {
  readonly #set: EndpointSet;
  readonly #lookup: () => Promise<Lookup>;
  readonly #minMs: number;
  readonly #maxMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #first: Promise<void> | undefined;

  constructor(set: EndpointSet, options: DiscoveryOptions, field = 'discovery') {
    this.#set = set;
    if (Array.isArray(options)) {
      const list = [...options];
      this.#lookup = async () => ({ list, ttlMs: Infinity });
      this.#minMs = this.#maxMs = Infinity;
    } else if (options !== null && typeof options === 'object' && 'resolve' in options) {
      if (typeof options.resolve !== 'function') refuse(`${field}.resolve`, options.resolve, 'give a function returning the endpoint list');
      const every = parseDuration(options.interval ?? DEFAULT_DISCOVERY.interval, `${field}.interval`);
      if (every < 10) refuse(`${field}.interval`, options.interval, 'give at least 10 ms');
      const resolve = options.resolve;
      this.#lookup = async () => ({ list: await resolve(), ttlMs: every });
      this.#minMs = this.#maxMs = every;
    } else if (options !== null && typeof options === 'object' && 'dns' in options) {
      this.#lookup = dnsLookup(options, field);
      this.#minMs = parseDuration(options.minInterval ?? DEFAULT_DISCOVERY.minInterval, `${field}.minInterval`);
      this.#maxMs = parseDuration(options.maxInterval ?? DEFAULT_DISCOVERY.maxInterval, `${field}.maxInterval`);
      if (this.#minMs < 10) refuse(`${field}.minInterval`, options.minInterval, 'give at least 10 ms');
      if (this.#maxMs < this.#minMs) refuse(`${field}.maxInterval`, options.maxInterval, `give at least ${field}.minInterval`);
    } else {
      refuse(field, options, 'give an endpoint list, { resolve, interval? } or { dns, record?, port? }');
    }
  }

  /** Runs the first lookup (the promise settles when it is applied) and keeps refreshing. */
  start(): Promise<void> {
    this.#first ??= this.#refresh();
    return this.#first;
  }

  /** Stops refreshing. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  /** Stops the discovery, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #refresh(): Promise<void> {
    let next = this.#maxMs;
    try {
      const { list, ttlMs } = await this.#lookup();
      if (this.#closed) return;
      const { added, removed } = this.#set.replace(list);
      if (added.length || removed.length) debug('added %d, removed %d', added.length, removed.length);
      next = Math.min(this.#maxMs, Math.max(this.#minMs, ttlMs));
    } catch (err) {
      if (this.#closed) return;
      debug('lookup failed: %s', (err as Error)?.message);
      this.#set.emit('discovery-error', err);
    }
    if (this.#closed || !Number.isFinite(next)) return;
    this.#timer = setTimeout(() => void this.#refresh(), next);
  }
}

function dnsLookup(o: DnsDiscovery, field: string): () => Promise<Lookup> {
  if (typeof o.dns !== 'string' || !/^[A-Za-z0-9_.-]{1,253}$/.test(o.dns)) refuse(`${field}.dns`, o.dns, 'give a DNS name such as "users.internal"');
  const record = o.record ?? 'A';
  if (record !== 'A' && record !== 'SRV') refuse(`${field}.record`, o.record, 'use "A" or "SRV"');
  const protocol = o.protocol ?? 'http';
  if (protocol !== 'http' && protocol !== 'https') refuse(`${field}.protocol`, o.protocol, 'use "http" or "https"');
  const port = o.port ?? (protocol === 'https' ? 443 : 80);
  if (!Number.isInteger(port) || port < 1 || port > 65535) refuse(`${field}.port`, o.port, 'give a port from 1 to 65535');
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  if (o.servers !== undefined) {
    if (!Array.isArray(o.servers) || o.servers.length === 0) refuse(`${field}.servers`, o.servers, 'give a non-empty array such as ["127.0.0.1:53"]');
    try {
      resolver.setServers(o.servers);
    } catch {
      refuse(`${field}.servers`, o.servers, 'give addresses such as "10.0.0.2" or "10.0.0.2:5353"');
    }
  }
  const url = (address: string, p: number): string => `${protocol}://${isIP(address) === 6 ? `[${address}]` : address}:${p}`;

  if (record === 'A') {
    return async () => {
      const answers = await resolver.resolve4(o.dns, { ttl: true });
      return {
        list: answers.map((a) => ({ url: url(a.address, port), id: `${a.address}:${port}` })),
        ttlMs: Math.min(...answers.map((a) => a.ttl)) * 1000,
      };
    };
  }
  return async () => {
    const srv = await resolver.resolveSrv(o.dns);
    // RFC 2782: only the lowest priority is used while any of it exists; weight shares the load.
    const top = Math.min(...srv.map((r) => r.priority));
    const chosen = srv.filter((r) => r.priority === top);
    const byId = new Map<string, EndpointOptions>(); // two targets may share an address
    let ttl = Infinity;
    for (const r of chosen) {
      // node:dns gives no TTL for SRV answers, so the targets' A records set the refresh time.
      const addrs = isIP(r.name) ? [{ address: r.name, ttl: Infinity }] : await resolver.resolve4(r.name, { ttl: true });
      for (const a of addrs) {
        ttl = Math.min(ttl, a.ttl * 1000);
        const id = `${a.address}:${r.port}`;
        byId.set(id, { url: url(a.address, r.port), id, weight: Math.max(1, r.weight) });
      }
    }
    return { list: [...byId.values()], ttlMs: ttl };
  };
}
