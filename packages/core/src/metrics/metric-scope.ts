import { createRequire } from 'node:module';
import type { Counter, CounterConfiguration, Gauge, Histogram, HistogramConfiguration, Registry } from 'prom-client';
import { ErrorCodes, InvalidArgumentError, MissingPackageError, ScaleoutError } from '../errors.js';
import { CounterRecorder, HistogramRecorder, type CounterSeries, type Flushable, type HistogramSeries } from './recorded-series.js';

/** The prom-client classes, loaded on the first `metrics()` call: an app without metrics never loads prom-client. */
type PromClient = typeof import('prom-client');
let prom: PromClient | undefined;

function promClient(): PromClient {
  if (prom) return prom;
  try {
    prom = createRequire(import.meta.url)('prom-client') as PromClient;
  } catch (err) {
    throw new MissingPackageError('prom-client', 'metrics()', { cause: err });
  }
  return prom;
}

/** What a scope contributes to a shared gauge at scrape time: calls `set` once per series. */
export type GaugeSource = (set: (labels: Record<string, string>, value: number) => void) => void | Promise<void>;

/** Instances claimed per registry, by family (`session`, `store`, `cluster`, ...). */
const claims = new WeakMap<object, Set<string>>();
/** The scopes feeding each scrape-time gauge. */
const sources = new WeakMap<object, Map<string, GaugeSource>>();
/** The recorders that feed each counter and histogram made by a scope, flushed when it is collected. */
const recorders = new WeakMap<object, Set<Flushable>>();

/** Labels without the instance label, which the scope adds. */
type Labels = Record<string, string>;

/** A counter of a {@link MetricScope}: series for the hot path, or an update now. */
export interface ScopedCounter {
  /** The prom-client counter (shared by every scope on the registry). */
  readonly metric: Counter<string>;
  /** A series of this instance, exported from 0 at once and fed at almost no cost per update. */
  series(labels?: Labels): CounterSeries;
  /** Adds `by` (default 1) to this instance's series with `labels` now: for rare events whose labels vary. */
  inc(labels?: Labels, by?: number): void;
}

/** A histogram of a {@link MetricScope}. */
export interface ScopedHistogram {
  /** The prom-client histogram (shared by every scope on the registry). */
  readonly metric: Histogram<string>;
  /** A series of this instance, exported from zero at once and fed at almost no cost per value. */
  series(labels?: Labels): HistogramSeries;
}

/** prom-client's `collect()` of the counters and histograms a scope makes: hands over what was recorded. */
function flushRecorded(this: object): void {
  const set = recorders.get(this);
  if (set) for (const r of set) r.flush();
}

/**
 * The metrics of one instance of one component (a node's session layer, a store, a proxy) in a
 * registry that several instances share. Each metric is created once per registry; every series
 * carries the instance's label, so two nodes in one process (or a test's fleet) stay apart. A
 * second scope for the same family and instance on one registry is refused with
 * `ERR_SCALEOUT_METRICS_REGISTERED`: the two would count into the same series.
 */
export class MetricScope {
  /** The registry the metrics are created in. */
  readonly registry: Registry;
  /** The label that tells instances apart, and this instance's value of it. */
  readonly label: string;
  /** This instance's value of {@link MetricScope.label}. */
  readonly instance: string;
  readonly #key: string;
  readonly #gauges: Array<Map<string, GaugeSource>> = [];
  readonly #recorders: Array<[object, Flushable]> = [];
  #closed = false;

  constructor(registry: Registry, family: string, instance: string, label = 'node') {
    if (registry === null || typeof registry !== 'object' || typeof registry.getSingleMetric !== 'function' || typeof registry.registerMetric !== 'function') {
      throw new InvalidArgumentError('registry', 'metrics(registry): expected a prom-client Registry (new Registry(), or prom-client\'s `register`)');
    }
    if (typeof instance !== 'string' || instance.length === 0) throw new InvalidArgumentError(label, `metrics(): expected a non-empty ${label} label value, got ${typeof instance}`);
    promClient();
    let taken = claims.get(registry);
    if (!taken) claims.set(registry, (taken = new Set()));
    this.#key = `${family}\0${instance}`;
    if (taken.has(this.#key)) {
      throw new ScaleoutError(ErrorCodes.METRICS_REGISTERED, `metrics(): the ${family} metrics of ${label}="${instance}" are already registered on this registry; give each instance its own ${label}, or close() the first`);
    }
    taken.add(this.#key);
    this.registry = registry;
    this.label = label;
    this.instance = instance;
  }

  /**
   * A counter; its label names get the instance label first. Its series are recorded here and
   * handed to prom-client when it is collected (at every scrape).
   */
  counter<T extends string>(config: Omit<CounterConfiguration<T>, 'registers' | 'collect'>): ScopedCounter {
    const metric = this.#recorded(config.name, () => new (promClient().Counter)({ ...config, labelNames: [this.label, ...(config.labelNames ?? [])] as string[], registers: [this.registry], collect: flushRecorded }) as Counter<string>);
    return {
      metric,
      series: (labels) => this.#keep(metric, new CounterRecorder(metric, this.#own(labels))),
      inc: (labels, by = 1) => metric.inc(this.#own(labels), by),
    };
  }

  /** A histogram; its label names get the instance label first. */
  histogram<T extends string>(config: Omit<HistogramConfiguration<T>, 'registers' | 'collect'>): ScopedHistogram {
    const metric = this.#recorded(config.name, () => new (promClient().Histogram)({ ...config, labelNames: [this.label, ...(config.labelNames ?? [])] as string[], registers: [this.registry], collect: flushRecorded }) as Histogram<string>);
    return { metric, series: (labels) => this.#keep(metric, new HistogramRecorder(metric, this.#own(labels), config.buckets ?? [])) };
  }

  #own(labels: Labels | undefined): Labels {
    return { [this.label]: this.instance, ...labels };
  }

  #recorded<M extends object>(name: string, make: () => M): M {
    const metric = this.#shared(name, () => {
      const m = make();
      recorders.set(m, new Set());
      return m;
    });
    if (!recorders.has(metric)) throw new InvalidArgumentError('registry', `metrics(): the registry already holds a metric named ${name} that scaleout did not make`);
    return metric;
  }

  #keep<R extends Flushable>(metric: object, recorder: R): R {
    recorders.get(metric)!.add(recorder);
    this.#recorders.push([metric, recorder]);
    return recorder;
  }

  /**
   * A counter or gauge read at scrape time (prom-client's `collect()`), from what each instance
   * keeps anyway: the instances' sources are asked in turn, and a closed one's series go.
   */
  collected(type: 'counter' | 'gauge', config: { name: string; help: string; labelNames?: readonly string[] }, source: GaugeSource): void {
    const metric = this.#shared(config.name, () => {
      const feeding = new Map<string, GaugeSource>();
      const options = {
        ...config,
        labelNames: [this.label, ...(config.labelNames ?? [])],
        registers: [this.registry],
        async collect(this: Gauge | Counter) {
          this.reset();
          const put = (labels: Record<string, string>, value: number) => (type === 'gauge' ? (this as Gauge).set(labels, value) : (this as Counter).inc(labels, value));
          for (const s of feeding.values()) await s(put);
        },
      };
      const m = type === 'gauge' ? new (promClient().Gauge)(options) : new (promClient().Counter)(options);
      sources.set(m, feeding);
      return m;
    });
    const feeding = sources.get(metric);
    if (!feeding) throw new InvalidArgumentError('registry', `metrics(): the registry already holds a metric named ${config.name} that scaleout did not make`);
    const label = this.label;
    const instance = this.instance;
    feeding.set(instance, (set) => source((labels, value) => set({ [label]: instance, ...labels }, value)));
    this.#gauges.push(feeding);
  }

  #shared<M extends object>(name: string, make: () => M): M {
    return (this.registry.getSingleMetric(name) as M | undefined) ?? make();
  }

  /**
   * Frees the instance's claim and stops its scrape-time series. What its series recorded is
   * handed over first, so the counters and histograms fed so far stay. Safe to call twice.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    claims.get(this.registry)?.delete(this.#key);
    for (const g of this.#gauges) g.delete(this.instance);
    for (const [metric, r] of this.#recorders) {
      r.flush();
      recorders.get(metric)?.delete(r);
    }
  }
}

/** Seconds since `start` (a `performance.now()` reading). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
