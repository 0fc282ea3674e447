import { createRequire } from 'node:module';
import type { Counter, CounterConfiguration, Gauge, Histogram, HistogramConfiguration, Registry } from 'prom-client';
import { ErrorCodes, InvalidArgumentError, MissingPackageError, ScaleoutError } from '../errors.js';

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

  /** A counter fed as things happen; its label names get the instance label first. */
  counter<T extends string>(config: Omit<CounterConfiguration<T>, 'registers' | 'collect'>): Counter<string> {
    return this.#shared(config.name, () => new (promClient().Counter)({ ...config, labelNames: [this.label, ...(config.labelNames ?? [])] as string[], registers: [this.registry] }) as Counter<string>);
  }

  /** A histogram; its label names get the instance label first. */
  histogram<T extends string>(config: Omit<HistogramConfiguration<T>, 'registers' | 'collect'>): Histogram<string> {
    return this.#shared(config.name, () => new (promClient().Histogram)({ ...config, labelNames: [this.label, ...(config.labelNames ?? [])] as string[], registers: [this.registry] }) as Histogram<string>);
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

  /** Frees the instance's claim and stops its scrape-time series (counters fed so far stay). Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    claims.get(this.registry)?.delete(this.#key);
    for (const g of this.#gauges) g.delete(this.instance);
  }
}

/** Seconds since `start` (a `performance.now()` reading). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
