import { debuglog } from 'node:util';
import { withDefaults } from './defaults.js';
import { parseDuration, type Duration } from './duration.js';
import type { Endpoint, Outcome } from './endpoint.js';
import { refuse } from './errors.js';

const debug = debuglog('scaleout:balancer:outlier');

/** Passive health: eject an endpoint after consecutive failures, as Envoy's outlier detection. */
export interface OutlierOptions {
  /** Consecutive failures (connection errors, timeouts, 5xx) that eject an endpoint. @default 5 */
  consecutiveFailures?: number;
  /** Ejection time for a first ejection; the n-th ejection in a row lasts n times this. @default '30s' */
  baseEjectionTime?: Duration;
  /** Cap on the ejection time. @default '300s' */
  maxEjectionTime?: Duration;
  /** Most endpoints ejected at once, in percent of the set; at least one may always be ejected. @default 10 */
  maxEjectionPercent?: number;
}

/** Envoy's defaults. */
export const DEFAULT_OUTLIER: Required<OutlierOptions> = {
  consecutiveFailures: 5,
  baseEjectionTime: '30s',
  maxEjectionTime: '300s',
  maxEjectionPercent: 10,
};

/** What the detector needs from its owner. */
export interface OutlierHost {
  all(): readonly Endpoint[];
  ejectionChanged(endpoint: Endpoint, ejected: boolean): void;
}

interface EjectionRecord {
  level: number;
  unejectedAt: number;
  timer?: NodeJS.Timeout;
}

/**
 * Counts consecutive failures per endpoint and ejects for base × level (capped), where the level
 * grows with each ejection and falls back by one for every base period the endpoint then stays in.
 */
export class OutlierDetector {
  /** Consecutive failures that eject an endpoint. */
  readonly consecutiveFailures: number;
  /** Ejection time of a first ejection, in ms. */
  readonly baseMs: number;
  /** Cap on the ejection time, in ms. */
  readonly maxMs: number;
  /** Most endpoints ejected at once, in percent of the set. */
  readonly maxPercent: number;
  readonly #host: OutlierHost;
  readonly #records = new Map<Endpoint, EjectionRecord>();

  constructor(host: OutlierHost, options: OutlierOptions = {}, field = 'outlier') {
    const o = withDefaults(DEFAULT_OUTLIER, options);
    if (!Number.isInteger(o.consecutiveFailures) || o.consecutiveFailures < 1 || o.consecutiveFailures > 1000) {
      refuse(`${field}.consecutiveFailures`, o.consecutiveFailures, 'give a whole number from 1 to 1000');
    }
    if (typeof o.maxEjectionPercent !== 'number' || !(o.maxEjectionPercent >= 0 && o.maxEjectionPercent <= 100)) {
      refuse(`${field}.maxEjectionPercent`, o.maxEjectionPercent, 'give a number from 0 to 100');
    }
    this.consecutiveFailures = o.consecutiveFailures;
    this.baseMs = parseDuration(o.baseEjectionTime, `${field}.baseEjectionTime`);
    this.maxMs = parseDuration(o.maxEjectionTime, `${field}.maxEjectionTime`);
    if (this.baseMs < 1) refuse(`${field}.baseEjectionTime`, o.baseEjectionTime, 'give at least 1 ms');
    if (this.maxMs < this.baseMs) refuse(`${field}.maxEjectionTime`, o.maxEjectionTime, 'give at least baseEjectionTime');
    this.maxPercent = o.maxEjectionPercent;
    this.#host = host;
  }

  /** Most endpoints that may be out at once among `total`. */
  maxEjected(total: number): number {
    return Math.max(1, Math.floor((total * this.maxPercent) / 100));
  }

  /** Counts a finished call and ejects the endpoint once its failures in a row reach `consecutiveFailures`. */
  onOutcome(ep: Endpoint, outcome: Outcome): void {
    if (outcome.ok || ep.ejectedUntil !== 0 || ep.consecutiveFailures < this.consecutiveFailures) return;
    const all = this.#host.all();
    let ejected = 0;
    for (const other of all) if (other.ejectedUntil !== 0) ejected++;
    if (ejected >= this.maxEjected(all.length)) {
      debug('not ejecting %s: %d of %d already out', ep.id, ejected, all.length);
      return;
    }
    this.#eject(ep);
  }

  #eject(ep: Endpoint): void {
    const now = Date.now();
    const rec = this.#records.get(ep) ?? { level: 0, unejectedAt: now };
    rec.level = Math.max(0, rec.level - Math.floor((now - rec.unejectedAt) / this.baseMs)) + 1;
    const ms = Math.min(this.baseMs * rec.level, this.maxMs);
    ep.ejectedUntil = now + ms;
    ep.ejections++;
    rec.timer = setTimeout(() => this.#uneject(ep), ms);
    this.#records.set(ep, rec);
    debug('ejected %s for %d ms (level %d)', ep.id, ms, rec.level);
    this.#host.ejectionChanged(ep, true);
  }

  #uneject(ep: Endpoint): void {
    const rec = this.#records.get(ep);
    if (rec) {
      rec.timer = undefined;
      rec.unejectedAt = Date.now();
    }
    if (ep.ejectedUntil === 0) return;
    ep.ejectedUntil = 0;
    ep.consecutiveFailures = 0;
    debug('%s back in', ep.id);
    this.#host.ejectionChanged(ep, false);
  }

  /** Forgets an endpoint that left the set. */
  forget(ep: Endpoint): void {
    const rec = this.#records.get(ep);
    if (rec?.timer) clearTimeout(rec.timer);
    this.#records.delete(ep);
    ep.ejectedUntil = 0;
  }

  /** Stops the ejection timers. */
  close(): void {
    for (const rec of this.#records.values()) if (rec.timer) clearTimeout(rec.timer);
    this.#records.clear();
  }
}
