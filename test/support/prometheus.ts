// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: every non-empty
// line must be a HELP, a TYPE or a sample of the family last declared, names and label names
// must be valid, label values may use only the three escapes the format allows, values must be
// numbers, a series may appear once, histogram buckets must be cumulative and end at +Inf with
// the _count. Anything else throws with the line number.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SUFFIXES: Record<Family['type'], string[]> = { counter: [''], gauge: [''], untyped: [''], histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

function number(text: string, where: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: "${text}" is not a number`);
  return Number(text);
}

function labels(text: string, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: label without a value`);
    const name = text.slice(i, eq);
    if (!LABEL.test(name) || name.startsWith('__')) throw new Error(`${where}: bad label name "${name}"`);
    if (Object.hasOwn(out, name)) throw new Error(`${where}: label "${name}" twice`);
    if (text[eq + 1] !== '"') throw new Error(`${where}: label value not quoted`);
    let value = '';
    let j = eq + 2;
    for (;; j++) {
      if (j >= text.length) throw new Error(`${where}: unterminated label value`);
      const c = text[j]!;
      if (c === '"') break;
      if (c === '\n') throw new Error(`${where}: raw newline in a label value`);
      if (c === '\\') {
        const e = text[++j];
        if (e === 'n') value += '\n';
        else if (e === '\\' || e === '"') value += e;
        else throw new Error(`${where}: bad escape \\${e}`);
      } else value += c;
    }
    out[name] = value;
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`${where}: expected "," between labels`);
      i++;
    }
  }
  return out;
}

/** Parses an exposition, throwing on the first departure from the format. */
export function parsePrometheusText(text: string): Family[] {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families: Family[] = [];
  const byName = new Map<string, Family>();
  const series = new Set<string>();
  let current: Family | undefined;
  text
    .slice(0, -1)
    .split('\n')
    .forEach((line, n) => {
      const where = `line ${n + 1}`;
      if (line === '') return; // the format allows empty lines (prom-client puts one between families)
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (meta) {
        const [, kind, name, rest] = meta as unknown as [string, string, string, string];
        if (!NAME.test(name)) throw new Error(`${where}: bad metric name "${name}"`);
        let fam = byName.get(name);
        if (fam && fam !== current) throw new Error(`${where}: family ${name} declared again after other families`);
        if (!fam) {
          fam = { name, type: 'untyped', help: '', samples: [] };
          byName.set(name, fam);
          families.push(fam);
        }
        current = fam;
        if (kind === 'TYPE') {
          if (fam.samples.length) throw new Error(`${where}: TYPE after samples of ${name}`);
          if (!(rest in SUFFIXES)) throw new Error(`${where}: unknown type "${rest}"`);
          fam.type = rest as Family['type'];
        } else fam.help = rest;
        return;
      }
      if (line.startsWith('#')) return; // a comment
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
      if (!m) throw new Error(`${where}: not a sample: ${line}`);
      const [, name, labelText = '', value] = m as unknown as [string, string, string | undefined, string];
      const fam = current;
      if (!fam || !SUFFIXES[fam.type].some((s) => name === fam.name + s)) throw new Error(`${where}: sample ${name} outside its family`);
      const l = labels(labelText, where);
      const key = `${name}${JSON.stringify(Object.entries(l).sort())}`;
      if (series.has(key)) throw new Error(`${where}: series ${key} twice`);
      series.add(key);
      fam.samples.push({ name, labels: l, value: number(value, where) });
    });
  for (const fam of families) if (fam.type === 'histogram') checkHistogram(fam);
  return families;
}

function checkHistogram(fam: Family): void {
  const groups = new Map<string, Sample[]>();
  for (const s of fam.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const [key, samples] of groups) {
    const buckets = samples.filter((s) => s.name.endsWith('_bucket'));
    const count = samples.find((s) => s.name.endsWith('_count'));
    if (!buckets.length || !count || !samples.some((s) => s.name.endsWith('_sum'))) throw new Error(`${fam.name}${key}: a histogram needs buckets, _sum and _count`);
    let last = -Infinity;
    let prev = 0;
    for (const b of buckets) {
      if (b.labels.le === undefined) throw new Error(`${fam.name}${key}: a bucket without le`);
      const le = number(b.labels.le, fam.name);
      if (le <= last || b.value < prev) throw new Error(`${fam.name}${key}: buckets must grow`);
      last = le;
      prev = b.value;
    }
    if (last !== Infinity || prev !== count.value) throw new Error(`${fam.name}${key}: the +Inf bucket must end the buckets and equal _count`);
  }
}

/** The value of the one sample of `name` whose labels include `labels` (0 when none has them). */
export function sampleValue(families: Family[], name: string, labels: Record<string, string> = {}): number {
  for (const f of families) for (const s of f.samples) if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
  return 0;
}
