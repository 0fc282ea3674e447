// `npm run faults`: the fault matrix. Starts each strategy and store topology for real (app node
// processes, @scaleout/proxy, redis-server, redis-sentinel, a Redis Cluster, Hazelcast members),
// injects each fault that applies under a steady load of virtual users, prints one line per
// scenario and writes the table into docs/reliability.md. Exits 1 when a promise is broken.
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describeRow } from './matrix.js';
import { parseFaultArgs, USAGE } from './options.js';
import { runPlan } from './plan.js';
import { renderSection, renderTable, writeSection } from './report.js';

const DOC = fileURLToPath(new URL('../docs/reliability.md', import.meta.url));

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
  const { help, plan, options, write } = parseFaultArgs(process.argv.slice(2));
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const scenarios = plan.reduce((n, e) => n + e.faults.length, 0);
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
