import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { z } from 'zod';
import { CONFIG_REFERENCE, schemaTable, updateConfigReference } from '../scripts/config-reference.js';

// docs/configuration.md's tables of store and transport options are generated from the schemas
// the packages validate with; they must not drift from them.
describe('the configuration reference', function () {
  it('is up to date with the option schemas (npm run docs:config rewrites it)', async function () {
    const text = await readFile(CONFIG_REFERENCE, 'utf8');
    expect(text).to.match(/<!-- config-reference store redis -->/);
    expect(updateConfigReference(text), 'run npm run docs:config').to.equal(text);
  });

  it('rewrites a stale table and leaves the text around it alone', function () {
    const stale = ['intro', '<!-- config-reference store memory -->', '| field | type | default | meaning |', '| `maxSessions` | old | `1` | old |', '<!-- /config-reference -->', 'outro'].join('\n');
    const updated = updateConfigReference(stale);
    expect(updated).to.not.equal(stale);
    expect(updated.startsWith('intro\n<!-- config-reference store memory -->\n')).to.equal(true);
    expect(updated.endsWith('<!-- /config-reference -->\noutro')).to.equal(true);
    expect(updated).to.include('| `maxSessions` | whole number ≥ 0 | `100000` |');
  });

  it('refuses a marker for a type no package registered', function () {
    expect(() => updateConfigReference('<!-- config-reference store nowhere -->\n<!-- /config-reference -->')).to.throw(/nowhere/);
  });

  it('reads the default, the requirement and the meaning of each field from the schema', function () {
    const table = schemaTable(
      z.strictObject({
        type: z.literal('x'),
        size: z.number().default(3).meta({ accepts: 'number', description: 'how many' }),
        at: z.string().meta({ description: 'where | when' }),
        note: z.string().optional(),
      }),
    );
    expect(table.split('\n').slice(2)).to.deep.equal(['| `size` | number | `3` | how many |', '| `at` |  | **required** | where \\| when |', '| `note` |  | — |  |']);
  });
});
