// `npm run experiment -- <name> [--size n]`: runs one experiment (or `all`) and prints its table.
import { parseArgs } from 'node:util';
import { EXPERIMENTS } from './index.js';
import { formatResult } from './table.js';

const usage = `usage: npm run experiment -- <name|all> [--size n]\n${Object.entries(EXPERIMENTS)
  .map(([name, e]) => `  ${name.padEnd(18)} ${e.describe} (size: ${e.sizeMeans}, default ${e.defaultSize})`)
  .join('\n')}`;

try {
  const { values, positionals } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { size: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  const name = positionals[0];
  if (values.help || !name) {
    console.log(usage);
    process.exit(name ? 0 : 1);
  }
  const names = name === 'all' ? Object.keys(EXPERIMENTS) : [name];
  for (const n of names) {
    const e = EXPERIMENTS[n];
    if (!e || !Object.hasOwn(EXPERIMENTS, n)) throw new Error(`no experiment ${JSON.stringify(n)}\n${usage}`);
    const size = values.size === undefined ? e.defaultSize : Number(values.size);
    if (!Number.isInteger(size) || size < 1 || size > 1_000_000) throw new Error(`--size: got ${JSON.stringify(values.size)}; expected an integer from 1 to 1000000`);
    console.log(formatResult(await e.run(size)));
  }
  process.exit(0);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
