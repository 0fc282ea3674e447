// `npm run faults`: the fault matrix. Starts each strategy and store topology for real (app node
// processes, @scaleout/proxy, redis-server, redis-sentinel, a Redis Cluster, Hazelcast members),
// injects each fault that applies under a steady load of virtual users, prints one line per
// scenario and writes the table into docs/reliability.md. Exits 1 when a promise is broken.
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeRow, FULL, SHORT, type ScenarioOptions } from './matrix.js';
import { filterPlan, fullPlan, runPlan, shortPlan } from './plan.js';
import { renderSection, renderTable, writeSection } from './report.js';

const DOC = fileURLToPath(new URL('../docs/reliability.md', import.meta.url));

const USAGE = `Usage: npm run faults [-- options]
  --short               the CI matrix (fewer VUs, shorter load, the cheap scenarios)
  --topologies a,b      only these (sticky, cluster-redis, store-sentinel, store-redis-cluster, store-hazelcast)
  --faults x,y          only these (app-node-kill, app-node-pause, proxy-restart, pubsub-kill, redis-slow,
                        sentinel-master-kill, redis-cluster-master-kill, hazelcast-member-kill)
  --vus n               virtual users per scenario
  --write / --no-write  write docs/reliability.md (default: only for the whole matrix)
`;

function version(cmd: string, args: string[], pattern: RegExp): string {
  try {
    return pattern.exec(execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }))?.[1] ?? '?';
  } catch {
    return 'missing';
  }
}

function environment(): string {
  const cpu = cpus();
  return `Node.js ${process.version.slice(1)}, Redis ${version('redis-server', ['--version'], /v=(\S+)/)}, Hazelcast 5.5.0, ${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}), shared with other work.`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
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
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
  const filtered = values.topologies !== '' || values.faults !== '';
  const plan = filterPlan(values.short ? shortPlan() : fullPlan(), list(values.topologies), list(values.faults));
  const options: ScenarioOptions = { ...(values.short ? SHORT : FULL) };
  if (values.vus !== undefined) {
    const vus = Number(values.vus);
    if (!Number.isInteger(vus) || vus < 1 || vus > 1000) throw new Error(`--vus: got ${JSON.stringify(values.vus)}; expected a whole number from 1 to 1000`);
    options.vus = vus;
  }
  const write = values['no-write'] ? false : (values.write ?? (!filtered && !values.short));
  const scenarios = plan.reduce((n, e) => n + e.faults.length, 0);
  if (scenarios === 0) throw new Error('no scenario matches these filters (the faults that apply to each topology: see docs/reliability.md)');
  process.stdout.write(`fault matrix: ${scenarios} scenarios on ${plan.length} topologies, ${options.vus} VUs each\n`);
  const started = Date.now();
  const rows = await runPlan(plan, options, (row) => process.stdout.write(`${describeRow(row)}\n`));
  const durationMs = Date.now() - started;
  process.stdout.write(`\n${renderTable(rows)}\n`);
  if (write) {
    const args = process.argv.slice(2).join(' ');
    await writeSection(DOC, renderSection(rows, { command: `npm run faults${args ? ` -- ${args}` : ''}`, date: new Date(), options, environment: environment(), durationMs }));
    process.stdout.write(`\nwritten to ${DOC}\n`);
  }
  const broken = rows.filter((r) => r.problems.length > 0);
  process.stdout.write(`\n${rows.length - broken.length} of ${rows.length} scenarios kept their promises (${Math.round(durationMs / 1000)} s)\n`);
  return broken.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`faults: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  },
);
