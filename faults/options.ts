import { parseArgs } from 'node:util';
import { FULL, SHORT, type ScenarioOptions } from './matrix.js';
import { filterPlan, fullPlan, shortPlan, type PlanEntry } from './plan.js';

export const USAGE = `Usage: npm run faults [-- options]
  --short               the CI matrix (fewer VUs, shorter load, the cheap scenarios)
  --topologies a,b      only these (sticky, cluster-redis, store-sentinel, store-redis-cluster, store-hazelcast,
                        store-hazelcast-no-backup: no backups, for contrast)
  --faults x,y          only these (app-node-kill, app-node-pause, proxy-restart, pubsub-kill, redis-slow,
                        sentinel-master-kill, redis-cluster-master-kill, hazelcast-member-kill)
  --vus n               virtual users per scenario (1 to 1000)
  --write / --no-write  write docs/reliability.md (default: only for the whole matrix)
`;

/** What `npm run faults` was asked to do. */
export interface FaultRun {
  help: boolean;
  plan: PlanEntry[];
  options: ScenarioOptions;
  /** Write the table into docs/reliability.md. */
  write: boolean;
}

/** Parses the command line (without node and the script); throws with a message naming the bad argument. */
export function parseFaultArgs(argv: string[]): FaultRun {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      short: { type: 'boolean', default: false },
      topologies: { type: 'string', default: '' },
      faults: { type: 'string', default: '' },
      vus: { type: 'string' },
      write: { type: 'boolean' },
      'no-write': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const options: ScenarioOptions = { ...(values.short ? SHORT : FULL) };
  if (values.help) return { help: true, plan: [], options, write: false };
  const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
  const plan = filterPlan(values.short ? shortPlan() : fullPlan(), list(values.topologies), list(values.faults));
  if (plan.length === 0) throw new Error('no scenario matches these filters (docs/reliability.md lists the faults that apply to each topology)');
  if (values.vus !== undefined) {
    const vus = Number(values.vus);
    if (!/^\d+$/.test(values.vus) || vus < 1 || vus > 1000) throw new Error(`--vus: got ${JSON.stringify(values.vus.slice(0, 40))}; expected a whole number from 1 to 1000`);
    options.vus = vus;
  }
  const filtered = values.topologies !== '' || values.faults !== '';
  const write = values['no-write'] ? false : (values.write ?? (!filtered && !values.short));
  return { help: false, plan, options, write };
}
