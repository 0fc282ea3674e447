import { debuglog } from 'node:util';
import { Load } from './load.js';
import type { Fault, Injection } from './scenarios/index.js';
import { isContrast, TOPOLOGY_LABELS, type Topology, type TopologyName } from './topology.js';
import { checkFinalCounters, type FinalCheck } from './verify.js';

const debug = debuglog('scaleout:faults-matrix');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How hard and how long each scenario runs. */
export interface ScenarioOptions {
  /** Virtual users. */
  vus: number;
  /** Pause between one VU's requests, in ms. */
  thinkMs: number;
  /** Time the app works between reading a session and saving it, in ms. */
  workMs: number;
  /** A request with no answer within this long is hung. */
  hangMs: number;
  /** Steady load before the fault, once every VU has its session. */
  beforeMs: number;
  /** Load kept on after every VU recovered, to catch losses that show late. */
  afterMs: number;
  /** Longest wait for every VU to succeed again; past it the row says "not recovered". */
  recoverTimeoutMs: number;
  /** Longest the final check waits for replicas to agree (anti-entropy runs every 10 s by default). */
  settleMs: number;
}

/** The CI matrix: a few VUs, a few seconds of load around each fault. */
export const SHORT: ScenarioOptions = { vus: 8, thinkMs: 50, workMs: 20, hangMs: 5000, beforeMs: 1000, afterMs: 2000, recoverTimeoutMs: 30_000, settleMs: 15_000 };
/** `npm run faults`: more VUs and longer load. */
export const FULL: ScenarioOptions = { vus: 24, thinkMs: 50, workMs: 20, hangMs: 5000, beforeMs: 5000, afterMs: 5000, recoverTimeoutMs: 45_000, settleMs: 15_000 };

/** What a strategy promises under a fault, as checked. */
export interface Promised {
  /** Sessions that may be lost: none, the share of clients the failed node served, or any (contrast). */
  sessionsLost: 'none' | 'node share' | 'not promised';
  /** Acknowledged increments that may be lost. */
  updatesLost: 'none' | 'not promised';
  hung: 'none';
}

/** One row of the matrix: one fault on one topology under load. */
export interface MatrixRow {
  topology: TopologyName;
  fault: string;
  faultTitle: string;
  detail: string;
  vus: number;
  requests: number;
  ok: number;
  non2xx: number;
  /** Status codes other than 200, with counts. */
  statuses: Record<string, number>;
  /** Each distinct failure (status and the start of its body, or the network error), with counts. */
  reasons: Record<string, number>;
  noAnswer: number;
  hung: number;
  sessionsLost: number;
  updatesLost: number;
  /** Increments that landed although their request got no 200. */
  landed: number;
  /** VUs the failed node served at the injection, when a node failed. */
  victimShare: number | undefined;
  /** From the injection to every VU's first 200 again; undefined when some VU never recovered. */
  recoveryMs: number | undefined;
  promise: Promised;
  /** Every broken promise, in words; empty when the row keeps them all. */
  problems: string[];
  /** The losses and hangs as each VU saw them (first few). */
  events: string[];
}

/** What `topology` (of `strategy`) promises under a fault that did `injection`. */
export function promiseFor(topology: TopologyName, strategy: Topology['strategy'], injection: { victimNode?: string }): Promised {
  if (isContrast(topology)) return { sessionsLost: 'not promised', updatesLost: 'not promised', hung: 'none' };
  // sticky keeps a session in one node's memory: a node that dies, or that the proxy gives up
  // on, takes its clients' sessions along, by design. Everything else promises no loss.
  return { sessionsLost: strategy === 'sticky' && injection.victimNode !== undefined ? 'node share' : 'none', updatesLost: 'none', hung: 'none' };
}

/** The broken promises of a row, in words. */
export function problemsOf(row: Omit<MatrixRow, 'problems'>): string[] {
  const out: string[] = [];
  if (row.hung > 0) out.push(`${row.hung} request(s) hung past the timeout`);
  if (row.promise.sessionsLost === 'none' && row.sessionsLost > 0) out.push(`${row.sessionsLost} session(s) lost`);
  if (row.promise.sessionsLost === 'node share' && row.sessionsLost > (row.victimShare ?? 0)) out.push(`${row.sessionsLost} session(s) lost, more than the ${row.victimShare} the failed node held`);
  if (row.promise.updatesLost === 'none' && row.updatesLost > 0) out.push(`${row.updatesLost} acknowledged update(s) lost`);
  if (row.recoveryMs === undefined) out.push('some VU never got a 200 again');
  return out;
}

export interface RunScenarioOptions extends ScenarioOptions {
  /** Bring the topology back to full strength afterwards (skip for the last scenario of a topology). @default true */
  restore?: boolean;
}

/**
 * Runs one fault on a running topology under a steady load of VUs through the proxy: every VU
 * makes its session, the load runs `beforeMs`, the fault is injected, the load goes on until every
 * VU got a 200 again and `afterMs` more, then every VU's counter is read back from the nodes.
 */
export async function runScenario(topology: Topology, fault: Fault, options: RunScenarioOptions): Promise<MatrixRow> {
  if (!fault.appliesTo.includes(topology.name)) throw new Error(`${fault.name} does not apply to ${topology.name}`);
  const load = new Load(topology.url, { vus: options.vus, hangMs: options.hangMs, thinkMs: options.thinkMs, workMs: options.workMs });
  load.start();
  let injection: Injection | undefined;
  let final: FinalCheck;
  try {
    await load.waitAcked(3, 30_000);
    await sleep(options.beforeMs);
    load.markInjection();
    debug('%s: injecting %s', topology.name, fault.name);
    injection = await fault.inject(topology);
    await load.waitRecovered(options.recoverTimeoutMs);
    await sleep(options.afterMs);
  } finally {
    await load.stop();
  }
  try {
    final = await checkFinalCounters(topology, load, options.settleMs);
  } finally {
    if (options.restore !== false) await fault.restore(topology);
  }
  const t = load.totals();
  const victimShare = injection.victimNode === undefined ? undefined : load.vus.filter((vu) => vu.nodeAtInjection === injection!.victimNode).length;
  const events = [...load.events.map((e) => `vu ${e.vu} at +${e.at - load.injectedAt!} ms: ${e.what}`), ...final.details];
  const row: Omit<MatrixRow, 'problems'> = {
    topology: topology.name,
    fault: fault.name,
    faultTitle: fault.title,
    detail: injection.detail,
    vus: options.vus,
    requests: t.requests,
    ok: t.ok,
    non2xx: t.non2xx,
    statuses: Object.fromEntries([...load.statuses].filter(([s]) => s !== 200).map(([s, n]) => [String(s), n])),
    reasons: Object.fromEntries(load.reasons),
    noAnswer: t.noAnswer,
    hung: t.hung,
    sessionsLost: t.sessionsLost + final.sessionsLost,
    updatesLost: t.updatesLost + final.updatesLost,
    landed: t.landed,
    victimShare,
    recoveryMs: load.recoveryMs(),
    promise: promiseFor(topology.name, topology.strategy, injection),
    events: events.slice(0, 20),
  };
  const result = { ...row, problems: problemsOf(row) };
  debug('%s / %s: %j', topology.name, fault.name, { ...result, events: result.events.length });
  return result;
}

/** One line about a row, for logs. */
export function describeRow(row: MatrixRow): string {
  const share = row.victimShare === undefined ? '' : ` (node's share ${row.victimShare})`;
  const reasons = Object.entries(row.reasons).map(([s, n]) => `\n    ${n}× ${s}`).join('');
  return (
    `${TOPOLOGY_LABELS[row.topology]} / ${row.faultTitle} [${row.detail}]: ${row.requests} requests, non-2xx ${row.non2xx}, ` +
    `no answer ${row.noAnswer}, hung ${row.hung}, sessions lost ${row.sessionsLost}${share}, updates lost ${row.updatesLost}, ` +
    `landed ${row.landed}, recovery ${row.recoveryMs ?? 'never'} ms${row.problems.length ? ` — BROKEN: ${row.problems.join('; ')}` : ''}${reasons}`
  );
}
