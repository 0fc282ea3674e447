import { debuglog } from 'node:util';
import { CookieClient } from '../examples/sample-cluster/src/experiments/cookie-client.js';

const debug = debuglog('scaleout:faults-load');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the app's `GET /count` answers. */
interface CountAnswer {
  count: number;
  node: string;
}

export interface LoadOptions {
  /** Virtual users, each with its own cookie jar and so its own session. */
  vus: number;
  /** A request with no complete answer within this long is aborted and counted as hung. @default 5000 */
  hangMs?: number;
  /** Pause between the end of one request of a VU and the start of its next. @default 50 */
  thinkMs?: number;
  /**
   * Time the app spends between reading the session and saving it (`GET /count?delay=`), as a
   * handler that calls a service: what a frozen node can be caught in the middle of. @default 0
   */
  workMs?: number;
}

/** One virtual user: a browser that keeps clicking "count". */
export class VirtualUser {
  readonly id: number;
  readonly client = new CookieClient();
  requests = 0;
  ok = 0;
  /** Answers other than 200. */
  non2xx = 0;
  /** Requests that got no HTTP answer (refused, reset) before the hang timeout. */
  noAnswer = 0;
  /** Requests aborted after the hang timeout. */
  hung = 0;
  /** The counter restarted at 1 after an acknowledged value: the session was gone. */
  sessionsLost = 0;
  /** The counter went back to a value at or below an acknowledged one (but not to 1): acknowledged increments gone. */
  updatesLost = 0;
  /** The counter moved by more than one: a request that got no 200 still landed. Not a loss. */
  landed = 0;
  /** The last acknowledged (200) counter value. */
  lastAck: number | undefined;
  /** The node that served the last acknowledged value. */
  lastNode: string | undefined;
  /** `lastNode` when the fault was injected. */
  nodeAtInjection: string | undefined;
  /** When the first 200 of a request sent after the injection came back. */
  recoveredAt: number | undefined;

  constructor(id: number) {
    this.id = id;
  }
}

/** A loss or anomaly one VU saw, for the report's details. */
export interface LoadEvent {
  vu: number;
  at: number;
  what: string;
}

/**
 * A steady load of virtual users against `baseUrl`: each loops `GET /count` (its session's
 * counter + 1) with its own cookie jar and a hang timeout on every request, and checks every
 * acknowledged value against the previous one.
 */
export class Load {
  readonly vus: VirtualUser[];
  readonly events: LoadEvent[] = [];
  readonly statuses = new Map<number, number>();
  /** Each distinct failure (status and the start of its body, or the error), with counts. */
  readonly reasons = new Map<string, number>();
  readonly hangMs: number;
  readonly thinkMs: number;
  #injectedAt: number | undefined;
  #running = false;
  #loops: Promise<void>[] = [];
  readonly #url: string;

  constructor(baseUrl: string, options: LoadOptions) {
    this.#url = `${baseUrl}/count${options.workMs ? `?delay=${options.workMs}` : ''}`;
    this.hangMs = options.hangMs ?? 5000;
    this.thinkMs = options.thinkMs ?? 50;
    this.vus = Array.from({ length: options.vus }, (_, i) => new VirtualUser(i));
  }

  get injectedAt(): number | undefined {
    return this.#injectedAt;
  }

  start(): void {
    this.#running = true;
    this.#loops = this.vus.map((vu) => this.#loop(vu));
  }

  /** Ends every loop once its current request is done (at most `hangMs`). */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  /** Notes the moment of the fault: recovery is timed from it, and each VU's node is remembered. */
  markInjection(at = Date.now()): void {
    this.#injectedAt = at;
    for (const vu of this.vus) vu.nodeAtInjection = vu.lastNode;
  }

  /** Resolves once every VU has `n` acknowledged increments. */
  async waitAcked(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.vus.every((vu) => (vu.lastAck ?? 0) >= n)) {
      if (Date.now() > deadline) throw new Error(`only ${this.vus.filter((vu) => (vu.lastAck ?? 0) >= n).length} of ${this.vus.length} VUs reached ${n} acknowledged increments within ${timeoutMs} ms; statuses ${JSON.stringify(Object.fromEntries(this.statuses))}`);
      await sleep(50);
    }
  }

  /** Resolves with true once every VU got a 200 for a request sent after the injection, or false after `timeoutMs`. */
  async waitRecovered(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.vus.every((vu) => vu.recoveredAt !== undefined)) {
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
    return true;
  }

  /** From the injection to the moment the last VU got a 200 again; undefined while one has not. */
  recoveryMs(): number | undefined {
    if (this.#injectedAt === undefined || !this.vus.every((vu) => vu.recoveredAt !== undefined)) return undefined;
    return Math.max(0, ...this.vus.map((vu) => vu.recoveredAt! - this.#injectedAt!));
  }

  /** Sums of every VU's counters. */
  totals(): Pick<VirtualUser, 'requests' | 'ok' | 'non2xx' | 'noAnswer' | 'hung' | 'sessionsLost' | 'updatesLost' | 'landed'> {
    const sum = (k: keyof VirtualUser) => this.vus.reduce((s, vu) => s + (vu[k] as number), 0);
    return { requests: sum('requests'), ok: sum('ok'), non2xx: sum('non2xx'), noAnswer: sum('noAnswer'), hung: sum('hung'), sessionsLost: sum('sessionsLost'), updatesLost: sum('updatesLost'), landed: sum('landed') };
  }

  /** Records what an acknowledged value says about the session. */
  #judge(vu: VirtualUser, value: number, node: string, at: number): void {
    const last = vu.lastAck;
    if (last !== undefined && value !== last + 1) {
      if (value === 1) {
        vu.sessionsLost++;
        this.#event(vu, at, `acknowledged ${last} on ${vu.lastNode}, then 1 on ${node}: session lost`);
      } else if (value <= last) {
        vu.updatesLost++;
        this.#event(vu, at, `acknowledged ${last} on ${vu.lastNode}, then ${value} on ${node}: ${last - value + 1} acknowledged increment(s) lost`);
      } else {
        vu.landed++;
      }
    } else if (last === undefined && value !== 1) {
      this.#event(vu, at, `a new session started at ${value} on ${node}`);
    }
    vu.lastAck = value;
    vu.lastNode = node;
  }

  #reason(what: string): void {
    this.reasons.set(what, (this.reasons.get(what) ?? 0) + 1);
  }

  #event(vu: VirtualUser, at: number, what: string): void {
    debug('vu %d: %s', vu.id, what);
    this.events.push({ vu: vu.id, at, what });
  }

  async #loop(vu: VirtualUser): Promise<void> {
    while (this.#running) {
      const started = Date.now();
      vu.requests++;
      try {
        const res = await vu.client.request(this.#url, { signal: AbortSignal.timeout(this.hangMs) });
        const text = await res.text();
        this.statuses.set(res.status, (this.statuses.get(res.status) ?? 0) + 1);
        if (res.status === 200) {
          const answer = JSON.parse(text) as CountAnswer;
          vu.ok++;
          this.#judge(vu, answer.count, answer.node, Date.now());
          if (this.#injectedAt !== undefined && started >= this.#injectedAt) vu.recoveredAt ??= Date.now();
        } else {
          vu.non2xx++;
          this.#reason(`${res.status} ${text.split('\n')[0]!.slice(0, 100)}`);
        }
      } catch (err) {
        if ((err as Error).name === 'TimeoutError') {
          vu.hung++;
          this.#event(vu, started, `no answer within ${this.hangMs} ms`);
        } else {
          vu.noAnswer++;
          const cause = (err as Error & { cause?: { code?: string } }).cause;
          this.#reason(`no answer: ${cause?.code ?? (err as Error).message}`);
        }
      }
      await sleep(this.thinkMs);
    }
  }
}
