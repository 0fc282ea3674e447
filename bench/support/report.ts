/**
 * docs/benchmarks.md, one section per benchmark between `<!-- bench:<name> -->` and
 * `<!-- /bench:<name> -->`.
 *
 * - `writeSection(file, name, markdown, order?)`: replaces that section and keeps every other
 *   one byte for byte; a new section goes before the first section that comes later in `order`
 *   (else at the end). The file is re-read under a lock file and replaced by rename, so two
 *   benchmarks finishing at once do not drop each other's section.
 * - `withHeader(markdown, header)`: puts `header` (see `runHeader()` in `./machine.ts`) right
 *   under the section's first heading, or on top when it has none.
 */
import { open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const START = (name: string) => `<!-- bench:${name} -->`;
const END = (name: string) => `<!-- /bench:${name} -->`;

/** The file's first lines when it does not exist yet. */
export const BENCHMARKS_PREAMBLE = `# Benchmarks

Each section is written by \`npm run bench -- <name>\` (see [bench/README.md](../bench/README.md))
with the command, the date and the machine that produced it. Every figure is measured against
its anchor in the same run, and ratios are what to compare: absolute numbers depend on the machine.
`;

/** Inserts `header` under the first markdown heading of `markdown`. */
export function withHeader(markdown: string, header: string): string {
  const lines = markdown.trim().split('\n');
  if (lines[0]?.startsWith('#')) return [lines[0], '', header.trimEnd(), ...lines.slice(1)].join('\n');
  return `${header.trimEnd()}\n\n${markdown.trim()}`;
}

/** Replaces (or inserts) one section in `text`. */
export function replaceSection(text: string, name: string, markdown: string, order: readonly string[] = []): string {
  const block = `${START(name)}\n${markdown.trim()}\n${END(name)}`;
  const s = text.indexOf(START(name));
  const e = text.indexOf(END(name));
  if (s !== -1 && e > s) return text.slice(0, s) + block + text.slice(e + END(name).length);
  const later = order.slice(order.indexOf(name) + 1);
  const positions = later.map((n) => text.indexOf(START(n))).filter((p) => p !== -1);
  if (order.includes(name) && positions.length) {
    const at = Math.min(...positions);
    return `${text.slice(0, at)}${block}\n\n${text.slice(at)}`;
  }
  return `${text.trimEnd()}\n\n${block}\n`;
}

async function lock(path: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const fh = await open(path, 'wx');
      await fh.close();
      return () => unlink(path).catch(() => undefined);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A lock left by a crashed run is older than any real write.
      const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > 60_000) await unlink(path).catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`${path} held for 30 s; remove it if no benchmark is running`, { cause: err });
      await sleep(100);
    }
  }
}

/** Rewrites the `name` section of `file`, keeping the others. */
export async function writeSection(file: string, name: string, markdown: string, order: readonly string[] = []): Promise<void> {
  const release = await lock(`${file}.lock`);
  try {
    const current = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return BENCHMARKS_PREAMBLE;
      throw err;
    });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, replaceSection(current, name, markdown, order));
    await rename(tmp, file);
  } finally {
    await release();
  }
}
