import type { Counter, Histogram } from 'prom-client';

/** One histogram series, fed on a request's path. */
export interface HistogramSeries {
  /** Records one value (seconds); a value that is not a finite number is ignored. */
  observe(value: number): void;
}

/** One counter series, fed on a request's path. */
export interface CounterSeries {
  /** Adds `by` (default 1); a negative or non-finite amount is ignored. */
  inc(by?: number): void;
}

/** Something that hands what it recorded to its prom-client metric when that is read. */
export interface Flushable {
  flush(): void;
}

/**
 * What a prom-client 15 histogram keeps per series (`hashMap[hash]`): read only to add the
 * recorded counts in one step, and checked before every use. When the shape differs (another
 * prom-client version), the recorder falls back to `observe()` and stays exact.
 */
interface SeriesValues {
  labels: Record<string, string | number>;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

/**
 * A histogram series whose observations are counted here, in a few typed-array slots, and added
 * to the prom-client `Histogram` when it is collected (at every scrape, before it is read).
 *
 * Why: prom-client's `observe()` validates the labels and builds their hash on every call, and
 * allocates while it does (about 0.25 µs and some garbage per value). A session request records
 * four values, which was several per cent of a Koa request; here a value costs a bucket search
 * and three additions, and the exported series is the same: the same buckets, count and sum.
 */
export class HistogramRecorder implements HistogramSeries, Flushable {
  readonly #histogram: Histogram<string>;
  readonly #labels: Record<string, string>;
  readonly #bounds: readonly number[];
  /** Observations per bucket since the last flush; the last slot is the one above every bound. */
  readonly #counts: Float64Array;
  /** Sum of the observations per bucket since the last flush (their mean stays in the bucket). */
  readonly #sums: Float64Array;
  #pending = 0;
  #key: string | undefined;

  constructor(histogram: Histogram<string>, labels: Record<string, string>, bounds: readonly number[]) {
    this.#histogram = histogram;
    this.#labels = labels;
    const own = (histogram as unknown as { upperBounds?: unknown }).upperBounds;
    this.#bounds = Array.isArray(own) && own.every((b) => typeof b === 'number') ? (own as number[]) : [...bounds].sort((a, b) => a - b);
    this.#counts = new Float64Array(this.#bounds.length + 1);
    this.#sums = new Float64Array(this.#bounds.length + 1);
    // The series is exported from zero, so a rate() over it starts at the first scrape.
    this.#values();
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.#bounds;
    let i = 0;
    // The first bound at or above the value, as prom-client picks it (`value <= bound`).
    while (i < bounds.length && value > bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sums[i]! += value;
    this.#pending++;
  }

  flush(): void {
    if (this.#pending === 0) return;
    const values = this.#values();
    const counts = this.#counts;
    const sums = this.#sums;
    for (let i = 0; i < counts.length; i++) {
      const n = counts[i]!;
      if (n === 0) continue;
      if (values) {
        if (i < this.#bounds.length) values.bucketValues[this.#bounds[i]!]! += n;
        values.sum += sums[i]!;
        values.count += n;
      } else {
        // Through the public API: every value recorded in a bucket is given as their mean, which
        // lies in that bucket, so the counts and the sum come out the same.
        const mean = sums[i]! / n;
        for (let k = 0; k < n; k++) this.#histogram.observe(this.#labels, mean);
      }
      counts[i] = 0;
      sums[i] = 0;
    }
    this.#pending = 0;
  }

  /** This series' values in the histogram (made from zero if missing), or undefined if their shape is not the known one. */
  #values(): SeriesValues | undefined {
    const map = (this.#histogram as unknown as { hashMap?: Record<string, unknown> }).hashMap;
    if (map === null || typeof map !== 'object') return undefined;
    if (this.#key !== undefined && this.#fits(map[this.#key])) return map[this.#key] as SeriesValues;
    // First use, or the registry was reset: find the series by its labels, or start it at zero.
    let key = this.#find(map);
    if (key === undefined) {
      this.#histogram.zero(this.#labels);
      key = this.#find((this.#histogram as unknown as { hashMap: Record<string, unknown> }).hashMap);
    }
    this.#key = key;
    return key === undefined ? undefined : ((this.#histogram as unknown as { hashMap: Record<string, SeriesValues> }).hashMap[key] as SeriesValues);
  }

  #find(map: Record<string, unknown>): string | undefined {
    const names = Object.keys(this.#labels);
    for (const [key, v] of Object.entries(map)) {
      if (!this.#fits(v)) continue;
      const labels = (v as SeriesValues).labels;
      if (Object.keys(labels).length === names.length && names.every((n) => String(labels[n]) === this.#labels[n])) return key;
    }
    return undefined;
  }

  #fits(v: unknown): boolean {
    if (v === null || typeof v !== 'object') return false;
    const s = v as Partial<SeriesValues>;
    if (typeof s.sum !== 'number' || typeof s.count !== 'number' || s.labels === null || typeof s.labels !== 'object') return false;
    const buckets = s.bucketValues;
    return buckets !== null && typeof buckets === 'object' && this.#bounds.every((b) => typeof buckets[b] === 'number');
  }
}

/**
 * A counter series counted here and added to the prom-client `Counter` (with its public `inc`)
 * when it is collected: one label hash per scrape instead of one per request.
 */
export class CounterRecorder implements CounterSeries, Flushable {
  readonly #counter: Counter<string>;
  readonly #labels: Record<string, string>;
  #pending = 0;

  constructor(counter: Counter<string>, labels: Record<string, string>) {
    this.#counter = counter;
    this.#labels = labels;
    counter.inc(labels, 0);
  }

  inc(by = 1): void {
    if (by > 0 && by !== Infinity) this.#pending += by;
  }

  flush(): void {
    if (this.#pending === 0) return;
    const n = this.#pending;
    this.#pending = 0;
    this.#counter.inc(this.#labels, n);
  }
}
