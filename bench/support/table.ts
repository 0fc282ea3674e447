/**
 * Markdown output for benchmark sections.
 *
 * - `markdownTable(header, rows, align?)`: a GitHub table; cells are escaped (`|`).
 * - `throughputTable(rows)`: the usual HTTP result table — req/s, p50, p99, server CPU per
 *   request, and each row's ratios to its anchor row (named by `anchor`): req/s, p99, CPU per
 *   request. Anchor rows show "anchor". Pass `ratios` when they were measured pairwise.
 * - `ratio(a, b)` → `"0.97×"`; `fmt(n, digits)`; `median(values)`; `spread(values)` → `"0.95–1.02"`.
 *
 * ```ts
 * throughputTable([
 *   { name: 'express-session + MemoryStore', rps: 5100, p50: 9.1, p99: 15, cpuPerRequestUs: 180 },
 *   { name: '@scaleout/express', anchor: 'express-session + MemoryStore', rps: 5000, p50: 9.4, p99: 16 },
 * ]);
 * ```
 */

/** Column alignment. */
export type Align = 'left' | 'right' | 'center';

function cell(value: unknown): string {
  return String(value ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A GitHub-flavoured markdown table. Columns default to left for the first, right for the rest. */
export function markdownTable(header: readonly string[], rows: readonly (readonly unknown[])[], align?: readonly Align[]): string {
  const al = header.map((_, i) => align?.[i] ?? (i === 0 ? 'left' : 'right'));
  const sep = al.map((a) => (a === 'right' ? '---:' : a === 'center' ? ':---:' : '---'));
  const line = (cells: readonly unknown[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), line(sep), ...rows.map(line)].join('\n');
}

/** `n` with `digits` decimals and thousands separators; `–` for NaN/undefined. */
export function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `a / b` as `"0.97×"`. */
export function ratio(a: number, b: number, digits = 2): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–';
  return `${(a / b).toFixed(digits)}×`;
}

/** The median (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** `"min–max"` of `values`, each with `digits` decimals. */
export function spread(values: readonly number[], digits = 2): string {
  if (values.length === 0) return '–';
  return `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
}

/** One row of {@link throughputTable}. */
export interface ThroughputRow {
  name: string;
  /** The row this one is compared with (its `name`); none for an anchor or a reference row. */
  anchor?: string;
  /** Marks the row as an anchor in the ratio column. */
  isAnchor?: boolean;
  rps: number;
  p50: number;
  p99: number;
  cpuPerRequestUs?: number;
  /**
   * Ratios to the anchor when they were measured pairwise (e.g. the median of each round's
   * ratio, which cancels load that shifted between rounds); otherwise computed from the row values.
   */
  ratios?: { rps: number; p99: number; cpu: number };
}

/** req/s, p50, p99 (ms), server CPU µs per request, and ratios to each row's anchor. */
export function throughputTable(rows: readonly ThroughputRow[]): string {
  const byName = new Map(rows.map((r) => [r.name, r]));
  const body = rows.map((r) => {
    const a = r.anchor ? byName.get(r.anchor) : undefined;
    if (r.anchor && !a) throw new Error(`row "${r.name}" names anchor "${r.anchor}", which is not in the table`);
    return [
      r.name,
      fmt(r.rps),
      fmt(r.p50, 2),
      fmt(r.p99, 2),
      fmt(r.cpuPerRequestUs),
      a ? (r.ratios ? ratio(r.ratios.rps, 1) : ratio(r.rps, a.rps)) : r.isAnchor ? 'anchor' : '',
      a ? (r.ratios ? ratio(r.ratios.p99, 1) : ratio(r.p99, a.p99)) : '',
      a ? (r.ratios ? ratio(r.ratios.cpu, 1) : ratio(r.cpuPerRequestUs ?? NaN, a.cpuPerRequestUs ?? NaN)) : '',
    ];
  });
  return markdownTable(['case', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'req/s vs anchor', 'p99 vs anchor', 'CPU/req vs anchor'], body);
}
