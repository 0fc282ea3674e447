import { expect } from 'chai';
import { assembleStrategy, createStrategy, loadPlugin, MemoryStore, MissingPackageError, ConfigError, memoryStoreSchema, parseConfig, registerStoreType, registeredStoreType } from '@scaleout/core';

describe('createStrategy', function () {
  it('builds sticky on node memory with a route cookie', async function () {
    await using s = await createStrategy({ strategy: 'sticky', nodeId: 'n1', secret: 'k' });
    expect(s.kind).to.equal('sticky');
    expect(s.store).to.be.instanceOf(MemoryStore);
    expect(s.route?.nodeId).to.equal('n1');
  });

  it('builds store on memory with no route cookie, and close is safe twice', async function () {
    const s = await createStrategy({ strategy: 'store', secret: 'k', store: { type: 'memory', maxSessions: 10 } });
    expect(s.route).to.equal(undefined);
    await s.close();
    await s.close();
    expect(s.store.available).to.equal(false);
  });

  it('refuses sticky with an external store', async function () {
    await expect(createStrategy({ strategy: 'sticky', secret: 'k', store: { type: 'redis', url: 'redis://127.0.0.1:1' } })).to.be.rejectedWith(ConfigError, /sticky/);
  });

  it('refuses cluster without a transport', async function () {
    await expect(createStrategy({ strategy: 'cluster', secret: 'k' })).to.be.rejectedWith(ConfigError, /cluster/);
  });

  it('refuses sessions.events "once" where every node sweeps its own sessions, naming the field', async function () {
    const once = { sessions: { events: 'once' as const } };
    for (const config of [
      { strategy: 'sticky' as const, secret: 'k', ...once },
      { strategy: 'store' as const, secret: 'k', store: { type: 'memory' as const }, ...once },
      { strategy: 'cluster' as const, secret: 'k', cluster: { transport: { type: 'redis' as const, url: 'redis://127.0.0.1:1' } }, ...once },
    ]) {
      const err = await createStrategy(config).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, config.strategy).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).field).to.equal('sessions.events');
      expect((err as Error).message).to.match(/only "every-node" is allowed/);
    }
    // A store assembled by hand is refused too when it cannot claim an expiry.
    const config = parseConfig({ strategy: 'store', secret: 'k', ...once });
    expect(() => assembleStrategy({ kind: 'store', nodeId: 'n1', store: new MemoryStore(), config })).to.throw(ConfigError, /MemoryStore/);
    expect(parseConfig({ secret: 'k' }).sessions.events).to.equal('every-node');
    expect(() => parseConfig({ secret: 'k', sessions: { events: 'twice' } })).to.throw(ConfigError, /sessions\.events/);
  });

  it('names the package to install when an optional one is missing', async function () {
    const err = await loadPlugin('@scaleout/not-a-package', 'store.type "x"').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(MissingPackageError);
    expect((err as MissingPackageError).code).to.equal('ERR_SCALEOUT_MISSING_PACKAGE');
    expect((err as Error).message).to.include('npm install @scaleout/not-a-package');
  });

  it('keeps core\'s own memory type: the registry refuses to replace it, so the store is this core\'s MemoryStore', async function () {
    const impostor = { schema: memoryStoreSchema, createStore: async () => new MemoryStore() };
    expect(() => registerStoreType('memory', impostor)).to.throw(ConfigError, /core's own/);
    expect(registeredStoreType('memory')).to.not.equal(impostor);
    await using s = await createStrategy({ strategy: 'store', secret: 'k' });
    expect(s.store).to.be.instanceOf(MemoryStore);
  });

  it('refuses a registration without a schema or a type name it could be written as', function () {
    const createStore = async () => new MemoryStore();
    expect(() => registerStoreType('Not A Name', { schema: memoryStoreSchema, createStore })).to.throw(ConfigError, /type name/);
    expect(() => registerStoreType('noschema', { schema: {} as never, createStore })).to.throw(ConfigError, /zod schema/);
    expect(registeredStoreType('noschema')).to.equal(undefined);
  });
});
