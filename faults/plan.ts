import { debuglog } from 'node:util';
import { describeRow, promiseFor, runScenario, type MatrixRow, type ScenarioOptions } from './matrix.js';
import { faultNamed, faultsFor, type Fault } from './scenarios/index.js';
import { ALL_TOPOLOGIES, startTopology, type Topology, type TopologyName } from './topology.js';

const debug = debuglog('scaleout:faults-plan');

/** The faults to run on one topology, in order. */
export interface PlanEntry {
  topology: TopologyName;
  faults: Fault[];
}

/** Every fault on every topology where it applies, the contrast last: what `npm run faults` runs. */
export function fullPlan(): PlanEntry[] {
  return ALL_TOPOLOGIES.map((topology) => ({ topology, faults: faultsFor(topology) }));
}

/** The cheap scenarios the CI test runs. */
export function shortPlan(): PlanEntry[] {
  return [
    { topology: 'sticky', faults: [faultNamed('app-node-kill'), faultNamed('proxy-restart')] },
    { topology: 'cluster-redis', faults: [faultNamed('app-node-kill'), faultNamed('pubsub-kill'), faultNamed('redis-slow')] },
    { topology: 'store-sentinel', faults: [faultNamed('app-node-kill'), faultNamed('redis-slow'), faultNamed('sentinel-master-kill')] },
    { topology: 'store-hazelcast', faults: [faultNamed('hazelcast-member-kill')] },
  ];
}

/** Keeps the topologies and faults named in the filters (all when a filter is empty). */
export function filterPlan(plan: PlanEntry[], topologies: string[], faults: string[]): PlanEntry[] {
  for (const t of topologies) if (!(ALL_TOPOLOGIES as readonly string[]).includes(t)) throw new Error(`no topology ${JSON.stringify(t.slice(0, 40))}; the topologies are ${ALL_TOPOLOGIES.join(', ')}`);
  for (const f of faults) faultNamed(f);
  return plan
    .filter((e) => topologies.length === 0 || topologies.includes(e.topology))
    .map((e) => ({ ...e, faults: e.faults.filter((f) => faults.length === 0 || faults.includes(f.name)) }))
    .filter((e) => e.faults.length > 0);
}

/** A row for a scenario that could not run at all. */
function failedRow(topology: TopologyName, strategy: Topology['strategy'], fault: Fault, err: unknown, vus: number): MatrixRow {
  const message = (err as Error).message.split('\n')[0]!;
  return {
    topology,
    fault: fault.name,
    faultTitle: fault.title,
    detail: 'did not run',
    vus,
    requests: 0,
    ok: 0,
    non2xx: 0,
    statuses: {},
    reasons: {},
    noAnswer: 0,
    hung: 0,
    sessionsLost: 0,
    updatesLost: 0,
    landed: 0,
    victimShare: undefined,
    recoveryMs: undefined,
    promise: promiseFor(topology, strategy, {}),
    problems: [`the scenario failed to run: ${message}`],
    events: [(err as Error).message.slice(0, 2000)],
  };
}

const STRATEGY_OF: Record<TopologyName, Topology['strategy']> = {
  sticky: 'sticky',
  'cluster-redis': 'cluster',
  'store-sentinel': 'store',
  'store-redis-cluster': 'store',
  'store-hazelcast': 'store',
  'store-hazelcast-no-backup': 'store',
};

/**
 * Runs a plan: each topology is started, runs its faults one after the other (restored to full
 * strength between them) and is stopped. A scenario or topology that fails to run gives rows that
 * say so, and the plan goes on.
 */
export async function runPlan(plan: PlanEntry[], options: ScenarioOptions, onRow: (row: MatrixRow) => void = () => undefined): Promise<MatrixRow[]> {
  const rows: MatrixRow[] = [];
  const add = (row: MatrixRow) => {
    rows.push(row);
    onRow(row);
  };
  for (const entry of plan) {
    let topology: Topology | undefined;
    try {
      topology = await startTopology(entry.topology);
    } catch (err) {
      for (const f of entry.faults) add(failedRow(entry.topology, STRATEGY_OF[entry.topology], f, err, options.vus));
      continue;
    }
    try {
      for (const [i, fault] of entry.faults.entries()) {
        try {
          add(await runScenario(topology, fault, { ...options, restore: i < entry.faults.length - 1 }));
        } catch (err) {
          debug('%s / %s failed: %s', entry.topology, fault.name, (err as Error).stack);
          add(failedRow(entry.topology, topology.strategy, fault, err, options.vus));
        }
      }
    } finally {
      await topology.close();
    }
  }
  debug('plan done:\n%s', rows.map(describeRow).join('\n'));
  return rows;
}
