import { readFile, writeFile } from 'node:fs/promises';
import type { MatrixRow, ScenarioOptions } from './matrix.js';
import { TOPOLOGY_LABELS } from './topology.js';

/** The markers in docs/reliability.md between which the measured table is written. */
export const BEGIN = '<!-- faults:begin -->';
export const END = '<!-- faults:end -->';

/** Where and with what a run was measured. */
export interface RunInfo {
  command: string;
  date: Date;
  options: ScenarioOptions;
  /** Versions and machine, one short line. */
  environment: string;
  durationMs: number;
}

const cell = (s: string | number) => String(s).replace(/\|/g, '\\|');

function promiseText(row: MatrixRow): string {
  if (row.promise.sessionsLost === 'not promised') return 'no durability (contrast); 0 hung';
  return row.promise.sessionsLost === 'node share' ? "≤ the node's share of sessions lost; 0 updates lost; 0 hung" : '0 lost; 0 hung';
}

function sessionsText(row: MatrixRow): string {
  return row.victimShare === undefined ? String(row.sessionsLost) : `${row.sessionsLost} (node's share: ${row.victimShare})`;
}

function non2xxText(row: MatrixRow): string {
  const by = Object.entries(row.statuses).map(([s, n]) => `${s}×${n}`).join(', ');
  return by ? `${row.non2xx} (${by})` : String(row.non2xx);
}

/** The matrix as a Markdown table, one row per scenario. */
export function renderTable(rows: MatrixRow[]): string {
  const head = ['strategy and topology', 'fault', 'promise', 'requests', 'non-2xx', 'no answer', 'hung > 5 s', 'sessions lost', 'updates lost', 'recovery (ms)', 'result'];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const r of rows) {
    const kept = r.promise.sessionsLost === 'not promised' ? 'no loss promised; 0 hung kept' : 'kept';
    const result = r.problems.length === 0 ? kept : `**broken**: ${r.problems.join('; ')}`;
    lines.push(`| ${[TOPOLOGY_LABELS[r.topology], r.faultTitle, promiseText(r), r.requests, non2xxText(r), r.noAnswer, r.hung, sessionsText(r), r.updatesLost, r.recoveryMs ?? 'never', result].map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The losses and hangs behind the broken rows, as the VUs saw them. */
export function renderDetails(rows: MatrixRow[]): string {
  const broken = rows.filter((r) => r.problems.length > 0 && r.events.length > 0);
  if (broken.length === 0) return '';
  const parts = broken.map((r) => `- ${TOPOLOGY_LABELS[r.topology]} / ${r.faultTitle} (${r.detail}):\n${r.events.slice(0, 8).map((e) => `  - ${e}`).join('\n')}`);
  return `\nWhat the VUs saw in the broken rows (first events of each, times from the injection):\n\n${parts.join('\n')}\n`;
}

/** The text that goes between the markers. */
export function renderSection(rows: MatrixRow[], info: RunInfo): string {
  const o = info.options;
  return [
    `Measured ${info.date.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${info.command}\` in ${Math.round(info.durationMs / 60_000)} min: ` +
      `${o.vus} VUs per scenario, each request working ${o.workMs} ms between reading and saving its session, ${o.thinkMs} ms between one VU's requests, a request hung after ${o.hangMs} ms, ` +
      `${o.beforeMs / 1000} s of load before the fault and ${o.afterMs / 1000} s after every VU recovered. ${info.environment}`,
    '',
    renderTable(rows),
    renderDetails(rows),
  ].join('\n');
}

/** Replaces what stands between the markers of `file` with `section`. */
export async function writeSection(file: string, section: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  const from = text.indexOf(BEGIN);
  const to = text.indexOf(END);
  if (from < 0 || to < from) throw new Error(`${file} has no ${BEGIN} … ${END} markers to write the table between`);
  await writeFile(file, `${text.slice(0, from + BEGIN.length)}\n${section.trimEnd()}\n${text.slice(to)}`);
}
