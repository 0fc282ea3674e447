import { debuglog } from 'node:util';
import type { ProxyStats } from '@scaleout/proxy';
import type { NodeStats } from './node-runtime.js';

const debug = debuglog('scaleout:sample-stats');

/** The series the dashboard draws for one node, oldest first. */
export interface NodeHistory {
  requestsPerSecond: number[];
  latencyMs: (number | null)[];
  inFlight: number[];
  sessions: (number | null)[];
  /** Rate of `scaleout_session_requests_total{outcome="saved"}` from the node's metrics. */
  savesPerSecond: (number | null)[];
  /** Mean `scaleout_session_load_duration_seconds` over the interval, in ms (null without loads). */
  loadMs: (number | null)[];
}

const emptyHistory = (): NodeHistory => ({ requestsPerSecond: [], latencyMs: [], inFlight: [], sessions: [], savesPerSecond: [], loadMs: [] });

/** One node as the dashboard shows it. */
export interface NodeView {
  id: string;
  framework: 'express' | 'koa';
  url: string;
  /** The proxy's view: up, down, drain, ejected. */
  state: string;
  /** The launcher's view: whether its process runs. */
  running: boolean;
  pid: number | null;
  inFlight: number;
  requests: number;
  latencyMs: number | null;
  sessions: number | null;
  rssBytes: number | null;
  replication: Record<string, unknown> | null;
  history: NodeHistory;
}

/** What the sampler needs of the cluster. */
export interface Sampled {
  proxyStats(): ProxyStats;
  nodes(): { id: string; framework: 'express' | 'koa'; url: string; running: boolean; pid: number | undefined }[];
}

async function nodeStats(url: string): Promise<NodeStats | undefined> {
  try {
    const res = await fetch(`${url}/__node/stats`, { signal: AbortSignal.timeout(800) });
    return res.ok ? ((await res.json()) as NodeStats) : undefined;
  } catch {
    return undefined;
  }
}

const push = <T>(series: T[], value: T, size: number) => {
  series.push(value);
  if (series.length > size) series.shift();
};

/** Samples the proxy's counters and every node's `/__node/stats` once per interval, keeping a short history. */
export class StatsSampler {
  readonly #source: Sampled;
  readonly #intervalMs: number;
  readonly #size: number;
  readonly #history = new Map<string, NodeHistory>();
  readonly #last = new Map<string, { requests: number; t: number; saved?: number; load?: { sum: number; count: number } }>();
  readonly #latest = new Map<string, NodeStats | undefined>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(source: Sampled, intervalMs = 1000, size = 60) {
    this.#source = source;
    this.#intervalMs = intervalMs;
    this.#size = size;
  }

  start(): void {
    this.#timer ??= setInterval(() => void (this.#running ??= this.sample().finally(() => (this.#running = undefined))), this.#intervalMs);
    this.#timer.unref();
  }

  /** Takes one sample now. */
  async sample(): Promise<void> {
    const nodes = this.#source.nodes();
    const stats = await Promise.all(nodes.map((n) => (n.running ? nodeStats(n.url) : Promise.resolve(undefined))));
    const proxy = this.#source.proxyStats();
    const now = Date.now();
    nodes.forEach((n, i) => {
      const t = proxy.targets.find((x) => x.id === n.id);
      const h = this.#history.get(n.id) ?? emptyHistory();
      this.#history.set(n.id, h);
      const requests = t?.requests ?? 0;
      const last = this.#last.get(n.id);
      const rps = last ? Math.max(0, ((requests - last.requests) * 1000) / Math.max(1, now - last.t)) : 0;
      const s = stats[i];
      const elapsed = last ? Math.max(1, now - last.t) : 0;
      const saves = s && last?.saved !== undefined && s.sessionsSaved >= last.saved ? ((s.sessionsSaved - last.saved) * 1000) / elapsed : null;
      const loads = s && last?.load && s.load.count > last.load.count ? ((s.load.sum - last.load.sum) / (s.load.count - last.load.count)) * 1000 : null;
      this.#last.set(n.id, { requests, t: now, ...(s && { saved: s.sessionsSaved, load: s.load }) });
      push(h.savesPerSecond, saves === null ? null : Math.round(saves * 10) / 10, this.#size);
      push(h.loadMs, loads === null ? null : Math.round(loads * 1000) / 1000, this.#size);
      push(h.requestsPerSecond, Math.round(rps * 10) / 10, this.#size);
      push(h.latencyMs, t?.latencyEwmaMs ?? null, this.#size);
      push(h.inFlight, t?.inFlight ?? 0, this.#size);
      push(h.sessions, stats[i]?.sessions ?? null, this.#size);
      this.#latest.set(n.id, stats[i]);
    });
    debug('sampled %d nodes', nodes.length);
  }

  /** Every node with its latest numbers and history. */
  views(): NodeView[] {
    const proxy = this.#source.proxyStats();
    return this.#source.nodes().map((n) => {
      const t = proxy.targets.find((x) => x.id === n.id);
      const s = n.running ? this.#latest.get(n.id) : undefined;
      return {
        id: n.id,
        framework: n.framework,
        url: n.url,
        state: t?.state ?? 'unknown',
        running: n.running,
        pid: n.pid ?? null,
        inFlight: t?.inFlight ?? 0,
        requests: t?.requests ?? 0,
        latencyMs: t?.latencyEwmaMs ?? null,
        sessions: s?.sessions ?? null,
        rssBytes: s?.rssBytes ?? null,
        replication: s?.replication ?? null,
        history: this.#history.get(n.id) ?? emptyHistory(),
      };
    });
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
