import { expect } from 'chai';
import { ErrorCodes, parseConfig } from '@scaleout/core';
import { InProcessTransport } from '../src/in-process-transport.js';
import { DEFAULT_REPLICATED_STORE_OPTIONS, resolveOptions } from '../src/replicated-store-options.js';

describe('ReplicatedStore options', () => {
  const transport = new InProcessTransport();

  it('fill in the same defaults as the cluster config section, and their own', () => {
    const { transport: _t, ...section } = parseConfig({ secret: 's', strategy: 'cluster', cluster: { transport: { type: 'in-process' } } }).cluster!;
    expect(section).to.deep.equal({ readyTimeout: 30_000, antiEntropyInterval: 10_000, discoveryWait: 500, maxMessageBytes: 4 * 1024 * 1024 });
    expect(DEFAULT_REPLICATED_STORE_OPTIONS).to.deep.equal({ ...section, expiryResolution: 1000, minTombstoneTtl: 60_000, replayWindow: 300_000 });
    const { nodeId, secret, transport: t, ...resolved } = resolveOptions({ nodeId: 'a', secret: 's', transport });
    expect([nodeId, secret, t]).to.deep.equal(['a', ['s'], transport]);
    expect(resolved).to.deep.equal(DEFAULT_REPLICATED_STORE_OPTIONS);
    const rotation = Object.freeze(['new', 'old'] as const);
    expect(resolveOptions({ nodeId: 'a', secret: rotation, transport }).secret).to.deep.equal(['new', 'old']);
  });

  it('refuse what the cluster section refuses, naming the field in each', () => {
    for (const [field, value] of [
      ['antiEntropyInterval', 10],
      ['readyTimeout', 0],
      ['discoveryWait', 'soon'],
      ['maxMessageBytes', 1024],
    ] as const) {
      expect(() => resolveOptions({ nodeId: 'a', secret: 's', transport, [field]: value }), field).to.throw().with.property('field', field);
      expect(() => parseConfig({ secret: 's', strategy: 'cluster', cluster: { transport: { type: 'in-process' }, [field]: value } }), field)
        .to.throw()
        .that.includes({ code: ErrorCodes.CONFIG, field: `cluster.${field}` });
    }
  });
});
