/** What an experiment measured: a table, the command that reproduces it, and what to read in it. */
export interface ExperimentResult {
  name: string;
  title: string;
  /** The command that produced the table. */
  command: string;
  columns: string[];
  rows: (string | number)[][];
  /** One or two sentences on what the numbers show. */
  notes: string[];
}

/** The result as a Markdown table with its command, as docs/experiments.md holds it. */
export function formatResult(r: ExperimentResult): string {
  const cell = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : v);
  const lines = [
    `### ${r.title}`,
    '',
    '```sh',
    r.command,
    '```',
    '',
    `| ${r.columns.join(' | ')} |`,
    `| ${r.columns.map(() => '---').join(' | ')} |`,
    ...r.rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
    '',
    ...r.notes.map((n) => `${n}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** The value at `q` (0..1) of `values`, by nearest rank. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}
