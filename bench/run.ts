/**
 * `npm run bench -- <name> [<name>...] [flags]`: runs benchmarks and writes their sections of
 * docs/benchmarks.md. With no name, lists them.
 *
 * A benchmark is a module `bench/<name>.ts` exporting `async function run(options?: BenchOptions):
 * Promise<string>`, which returns a markdown section (a heading, a table, notes). It is imported
 * only when asked for, so a benchmark still being written does not break the others.
 *
 * Flags (all optional; a benchmark may read more from `options.flags`):
 * `--no-write` print only · `--duration=8` · `--warmup=2` · `--connections=50` · `--rounds=3` ·
 * `--profile` (CPU profiles of the servers under test; implies `--no-write` unless `--write`).
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { benchOptions, parseArgs, type BenchOptions } from './support/options.js';
import { runHeader } from './support/machine.js';
import { withHeader, writeSection } from './support/report.js';

/** Benchmarks the project plans, in the order of docs/benchmarks.md. */
export const KNOWN = ['middleware', 'stores', 'directory', 'cluster', 'proxy', 'balancer'] as const;

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const DOC = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
const NAME = /^[a-z][a-z0-9-]*$/;

/** A benchmark that cannot be run as asked: the message says why, no stack needed. */
class NoSuchBenchmark extends Error {}

type BenchModule = { run?: (options?: BenchOptions) => Promise<string> };

function present(): string[] {
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'run.ts')
    .map((f) => f.slice(0, -3))
    .filter((n) => NAME.test(n));
}

function listing(): string {
  const here = present();
  const names = [...KNOWN, ...here.filter((n) => !(KNOWN as readonly string[]).includes(n))];
  const width = Math.max(...names.map((n) => n.length)) + 2;
  const lines = names.map((n) => `  ${n.padEnd(width)} ${here.includes(n) ? 'ready' : 'not written yet'}`);
  return `usage: npm run bench -- <name> [<name>...] [--no-write] [--duration=8] [--warmup=2] [--connections=50] [--rounds=3] [--profile]\n\nbenchmarks:\n${lines.join('\n')}\n`;
}

async function load(name: string): Promise<BenchModule['run']> {
  if (!NAME.test(name)) throw new NoSuchBenchmark(`"${name}" is not a benchmark name (lowercase letters, digits and -)`);
  const file = join(BENCH_DIR, `${name}.ts`);
  if (!existsSync(file)) {
    throw new NoSuchBenchmark(
      (KNOWN as readonly string[]).includes(name)
        ? `benchmark "${name}" does not exist yet: bench/${name}.ts has not been written`
        : `unknown benchmark "${name}"; available: ${present().join(', ') || 'none'}`,
    );
  }
  const mod = (await import(pathToFileURL(file).href)) as BenchModule;
  if (typeof mod.run !== 'function') throw new NoSuchBenchmark(`bench/${name}.ts does not export an async function run(options)`);
  return mod.run;
}

async function main(argv: string[]): Promise<number> {
  const { names, flags } = parseArgs(argv);
  if (names.length === 0) {
    process.stdout.write(listing());
    return 0;
  }
  const options = benchOptions(flags);
  const write = flags.write === undefined ? !options.profile : flags.write !== false;
  const command = ['npm run bench --', ...argv].join(' ');
  let failed = 0;
  for (const name of names) {
    try {
      const run = await load(name);
      process.stderr.write(`bench ${name}: running\n`);
      const started = new Date();
      const header = runHeader({ command, date: started });
      const section = withHeader(await run!(options), header);
      process.stdout.write(`\n${section}\n`);
      if (write) {
        await writeSection(DOC, name, section, KNOWN);
        process.stderr.write(`bench ${name}: section written to docs/benchmarks.md\n`);
      }
    } catch (err) {
      failed++;
      const text = err instanceof NoSuchBenchmark ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.stderr.write(`bench ${name}: ${text}\n`);
    }
  }
  return failed ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
