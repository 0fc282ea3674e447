import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { eventually } from '@scaleout/harness';
import { closeNodes, contents, startNodes } from './nodes.js';

type Op = { node: number; kind: 'set' | 'destroy' | 'touch' | 'patch' | 'unset'; id: number; value: number; ttl: number };

const op = fc.record({
  node: fc.integer({ min: 0, max: 2 }),
  kind: fc.constantFrom('set', 'set', 'patch', 'patch', 'patch', 'unset', 'destroy', 'touch') as fc.Arbitrary<Op['kind']>,
  id: fc.integer({ min: 0, max: 9 }),
  value: fc.integer(),
  ttl: fc.integer({ min: 30_000, max: 90_000 }),
});

describe('ReplicatedStore convergence (model-based)', function () {
  this.timeout(60_000);

  it('converges after any interleaving of writes, patches, destroys and touches under 30 % loss, and never resurrects a destroyed session', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 12 }), async (turns) => {
        const nodes = await startNodes(3, { antiEntropyInterval: 60_000, discoveryWait: 20 }, `model-${randomUUID()}`);
        try {
          for (const n of nodes) n.transport.dropRate = 0.3;
          const destroyed = new Set<string>();
          // Each turn's ops run in one event-loop turn (batched), turns apart.
          for (const turn of turns) {
            await Promise.all(
              turn.map((o) => {
                const store = nodes[o.node]!.store;
                const id = `m${o.id}`;
                if (o.kind === 'destroy') {
                  destroyed.add(id);
                  return store.destroy(id);
                }
                const key = `k${Math.abs(o.value) % 4}`;
                if (o.kind === 'patch') return store.patch(id, { set: { [key]: o.value, by: store.nodeId }, unset: [] }, o.ttl);
                if (o.kind === 'unset') return store.patch(id, { set: {}, unset: [key] }, o.ttl);
                return o.kind === 'set' ? store.set(id, { v: o.value, by: store.nodeId }, o.ttl) : store.touch(id, o.ttl);
              }),
            );
            await new Promise((r) => setImmediate(r));
          }
          for (const n of nodes) n.transport.dropRate = 0;
          const stores = nodes.map((n) => n.store);
          await eventually(async () => {
            await Promise.all(stores.map((s) => s.antiEntropy()));
            await new Promise((r) => setTimeout(r, 20));
            return new Set(stores.map((s) => s.digest())).size === 1;
          }, 5000, 'equal digests');
          const all = await Promise.all(stores.map(contents));
          if (all[1] !== all[0] || all[2] !== all[0]) {
            const a = JSON.parse(all[0]!) as Array<[string, unknown]>;
            for (const [k, other] of [all[1], all[2]].entries()) {
              const b = JSON.parse(other!) as Array<[string, unknown]>;
              for (let i = 0; i < Math.max(a.length, b.length); i++) if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) console.log('DIFF', k + 1, JSON.stringify(a[i]), JSON.stringify(b[i]));
            }
          }
          expect(all[1]).to.equal(all[0]);
          expect(all[2]).to.equal(all[0]);
          for (const id of destroyed) for (const s of stores) expect(await s.get(id), `${id} on ${s.nodeId}`).to.equal(undefined);
        } finally {
          await closeNodes(nodes);
        }
      }),
      { numRuns: 25 },
    );
  });
});
