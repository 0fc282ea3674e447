import { expect } from 'chai';
import { Registry } from 'prom-client';
import { ErrorCodes, MemoryStore, storeMetrics } from '@scaleout/core';
import { parsePrometheusText, sampleValue } from '../../../../test/support/prometheus.js';

describe('storeMetrics() on an in-process store', function () {
  const stores: MemoryStore[] = [];
  after(async function () {
    for (const s of stores) await s.close().catch(() => {});
  });

  it('times each operation, counts a failed one by its code, and stops when closed', async function () {
    const store = new MemoryStore();
    stores.push(store);
    const registry = new Registry();
    const m = storeMetrics(registry, store, { type: 'memory', node: 'n1' });
    const labels = (op: string) => ({ node: 'n1', store: 'memory', op });
    const read = async () => parsePrometheusText(await registry.metrics());

    await store.set('a', { n: 1 }, 60_000);
    expect(await store.get('a')).to.deep.equal({ n: 1 });
    expect(await store.patch('a', { set: { n: 2 }, unset: [] }, 60_000)).to.equal(true);
    await store.touch('a', 60_000);
    await store.destroy('a');
    await expect(store.set('a', [] as never, 60_000)).to.be.rejectedWith(/plain object/);
    let f = await read();
    // The patch writes through the store's own set: both are counted.
    expect(['get', 'set', 'patch', 'touch', 'destroy'].map((op) => sampleValue(f, 'scaleout_store_operation_duration_seconds_count', labels(op)))).to.deep.equal([1, 3, 1, 1, 1]);
    expect(sampleValue(f, 'scaleout_store_errors_total', { ...labels('set'), code: ErrorCodes.INVALID_ARGUMENT })).to.equal(1);
    expect(sampleValue(f, 'scaleout_store_operation_duration_seconds_bucket', { ...labels('get'), le: '+Inf' })).to.equal(1);

    m.close();
    await store.get('a');
    f = await read();
    expect(sampleValue(f, 'scaleout_store_operation_duration_seconds_count', labels('get')), 'not counted once closed').to.equal(1);
    expect(Object.hasOwn(store, 'get'), 'the store method restored').to.equal(false);
  });

  it('times the synchronous operations the session engine uses, and withdraws them when another wrapper replaces a method', async function () {
    const store = new MemoryStore();
    stores.push(store);
    const registry = new Registry();
    const m = storeMetrics(registry, store, { type: 'memory', node: 'n1' });
    const sync = store.sync;
    expect(sync, 'still offered with metrics on').to.not.equal(undefined);
    sync!.set('a', { n: 1 }, 60_000);
    expect(sync!.get('a')).to.deep.equal({ n: 1 });
    expect(sync!.patch('a', { set: { n: 2 }, unset: [] }, 60_000)).to.equal(true);
    sync!.touch('a', 60_000);
    sync!.destroy('a');
    const count = async (op: string) => sampleValue(parsePrometheusText(await registry.metrics()), 'scaleout_store_operation_duration_seconds_count', { node: 'n1', store: 'memory', op });
    expect(await Promise.all(['get', 'set', 'patch', 'touch', 'destroy'].map(count))).to.deep.equal([1, 1, 1, 1, 1]);

    const timedGet = store.get;
    store.get = async (id) => timedGet.call(store, id);
    expect(store.sync, 'a later wrapper must be called, not skipped').to.equal(undefined);
    store.get = timedGet;
    expect(store.sync).to.equal(sync);
    m.close();
    expect(Object.hasOwn(store, 'sync'), 'the store offers its own again').to.equal(false);
    expect(store.sync).to.not.equal(undefined);
    store.sync!.get('a');
    expect(await count('get'), 'not counted once closed').to.equal(1);
  });

  it('counts the rejection of a closed store, and the caller still gets it', async function () {
    const store = new MemoryStore();
    const registry = new Registry();
    storeMetrics(registry, store, { type: 'memory', node: 'n1' });
    await store.close();
    await expect(store.get('a')).to.be.rejected.and.eventually.have.property('code', ErrorCodes.STORE_CLOSED);
    const f = parsePrometheusText(await registry.metrics());
    expect(sampleValue(f, 'scaleout_store_errors_total', { node: 'n1', store: 'memory', op: 'get', code: ErrorCodes.STORE_CLOSED })).to.equal(1);
    expect(sampleValue(f, 'scaleout_store_operation_duration_seconds_count', { node: 'n1', store: 'memory', op: 'get' }), 'a failed operation is timed too').to.equal(1);
  });
});
