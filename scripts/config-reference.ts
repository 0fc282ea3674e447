// `npm run docs:config`: writes the tables of docs/configuration.md that describe the options of
// each store and transport type, from the zod schema that type registered (the one schema its
// package validates with), and of core's own sections that have a schema of their own (`cluster`).
// A table sits between `<!-- config-reference store redis -->` (or `section cluster`) and
// `<!-- /config-reference -->`; the text around it is written by hand. `--check` changes nothing
// and exits 1 when the file is out of date (test/config-reference.test.ts does the same check).
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { clusterSchema, registeredStoreType, registeredTransportType } from '@scaleout/core';
import { z } from 'zod';
// Importing a package registers its types.
import '@scaleout/redis';
import '@scaleout/hazelcast';
import '@scaleout/cluster';

export const CONFIG_REFERENCE = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

const MARKER = /(<!-- config-reference (store|transport|section) ([a-z0-9._-]+) -->\n)[\s\S]*?(<!-- \/config-reference -->)/g;

/** Core's sections whose table is generated, by name. */
const SECTIONS: Readonly<Record<string, z.ZodType>> = { cluster: clusterSchema };

function schemaOf(kind: string, name: string): z.ZodType | undefined {
  if (kind === 'section') return SECTIONS[name];
  return (kind === 'store' ? registeredStoreType(name) : registeredTransportType(name))?.schema;
}

interface FieldMeta {
  /** What the field accepts, as the reader should read it. */
  accepts?: string;
  /** The default, when it is not a plain value the schema holds (`"lock:" + prefix`). */
  default?: string;
  description?: string;
}

function defaultOf(field: z.ZodType, meta: FieldMeta): string {
  if (meta.default !== undefined) return meta.default;
  const def = field.def as { type: string; defaultValue?: unknown };
  if (def.type === 'default' || def.type === 'prefault') return `\`${JSON.stringify(def.defaultValue)}\``;
  return field.safeParse(undefined).success ? '—' : '**required**';
}

/** The markdown table of an object schema's fields (all but `type`): field, type, default, meaning. */
export function schemaTable(schema: z.ZodType): string {
  if (!(schema instanceof z.ZodObject)) throw new Error('a config section schema is a zod object');
  const rows = Object.entries(schema.shape as Record<string, z.ZodType>)
    .filter(([name]) => name !== 'type')
    .map(([name, field]) => {
      const meta = (z.globalRegistry.get(field) ?? {}) as FieldMeta;
      const cells = [`\`${name}\``, meta.accepts ?? '', defaultOf(field, meta), meta.description ?? ''];
      return `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
    });
  return ['| field | type | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** `markdown` with every marked table rewritten from the schema of the type it names. */
export function updateConfigReference(markdown: string): string {
  return markdown.replace(MARKER, (_all, open: string, kind: string, name: string, close: string) => {
    const schema = schemaOf(kind, name);
    if (!schema) throw new Error(`docs/configuration.md marks a table for ${kind} "${name}", which no package registered`);
    return `${open}${schemaTable(schema)}\n${close}`;
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = await readFile(CONFIG_REFERENCE, 'utf8');
  const updated = updateConfigReference(text);
  if (process.argv.includes('--check')) {
    if (updated !== text) {
      console.error('docs/configuration.md is out of date with the option schemas: run npm run docs:config');
      process.exit(1);
    }
  } else if (updated !== text) {
    await writeFile(CONFIG_REFERENCE, updated);
    console.log('docs/configuration.md: tables rewritten from the option schemas');
  }
}
