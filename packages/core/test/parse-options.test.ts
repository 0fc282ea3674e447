import { expect } from 'chai';
import { z } from 'zod';
import { ConfigError, duration, ErrorCodes, parseOptions, schemaDefaults } from '@scaleout/core';

describe('parseOptions', () => {
  const schema = z.strictObject({
    client: z.string(),
    name: z.string().min(1).default('sessions'),
    timeout: duration().prefault('2s'),
    label: z.string().optional(),
    nested: z.object({ depth: z.number().default(3) }).prefault({}),
  });

  it('gives the defaults a schema fills in, leaving out required and merely optional fields', () => {
    const defaults = schemaDefaults(schema);
    expect(defaults).to.deep.equal({ name: 'sessions', timeout: 2000, nested: { depth: 3 } });
    expect(Object.isFrozen(defaults)).to.equal(true);
    expect(schemaDefaults(z.object({ a: z.string(), b: z.number().optional() }))).to.deep.equal({});
  });

  it('refuses a field with a ConfigError naming it under the prefix, with the value and what is allowed', () => {
    const err = (() => {
      try {
        parseOptions(schema, { client: 'c', name: '' }, ['store']);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).to.be.instanceOf(ConfigError).and.include({ code: ErrorCodes.CONFIG, field: 'store.name' });
    expect((err as Error).message).to.match(/^config store\.name: got ""; /);
    expect(parseOptions(schema, { client: 'c' })).to.deep.equal({ client: 'c', name: 'sessions', timeout: 2000, nested: { depth: 3 } });
  });
});
