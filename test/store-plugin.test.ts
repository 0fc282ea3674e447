import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import {
  ConfigError,
  createStrategy,
  ErrorCodes,
  loadConfig,
  MissingPackageError,
  registeredStoreType,
  type Strategy,
} from '@scaleout/core';
import { session } from '@scaleout/express';
import { startHttp, type RunningServer } from './support/http.js';

// A store type from a package outside @scaleout (test/fixtures/store-plugin, a workspace named
// scaleout-fixture-store) plugs in with no change to core: createStrategy loads the package the
// config names, the package registers "fixture" with its own schema, and that schema validates
// the section.
const PACKAGE = 'scaleout-fixture-store';
const SECRET = 'plugin test secret';

describe('a store type registered by a package outside scaleout', function () {
  const strategies: Strategy[] = [];
  const servers: RunningServer[] = [];
  after(async function () {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await Promise.all(strategies.splice(0).map((s) => s.close()));
  });

  it('is loaded by the package named in store.package, opened with its defaults, and serves a session across two requests', async function () {
    expect(registeredStoreType('fixture'), 'nothing registered "fixture" before the config asked for it').to.equal(undefined);
    const strategy = await createStrategy({ strategy: 'store', nodeId: 'n1', secret: SECRET, store: { type: 'fixture', package: PACKAGE, namespace: 'shop' } });
    strategies.push(strategy);

    const { FixtureStore } = await import(PACKAGE);
    expect(strategy.store).to.be.instanceOf(FixtureStore);
    expect(strategy.store).to.include({ namespace: 'shop', capacity: 50 });
    expect(strategy.config.store, 'the section as the fixture schema gave it').to.deep.equal({ type: 'fixture', package: PACKAGE, namespace: 'shop', capacity: 50 });

    const app = express();
    app.use(session(strategy));
    app.get('/visit', (req, res) => {
      const s = req.session as unknown as { visits?: number };
      s.visits = (s.visits ?? 0) + 1;
      res.json({ visits: s.visits });
    });
    const server = await startHttp(app);
    servers.push(server);
    const agent = request.agent(server.server);
    const first = await agent.get('/visit').expect(200);
    expect(first.body.visits).to.equal(1);
    expect(first.headers['set-cookie']?.[0], 'the session cookie').to.match(/^sid=/);
    const second = await agent.get('/visit').expect(200);
    expect(second.body.visits, 'the second request reads what the first saved in the fixture store').to.equal(2);
    expect(await strategy.store.size()).to.equal(1);
  });

  it('is found through the registry once registered, with no package named', async function () {
    const strategy = await createStrategy({ strategy: 'store', secret: SECRET, store: { type: 'fixture', namespace: 'other', capacity: 3 } });
    strategies.push(strategy);
    expect(strategy.store).to.include({ namespace: 'other', capacity: 3 });
  });

  it('is named from SCALEOUT_* variables too, its fields converted by its own schema', async function () {
    const env = { SCALEOUT_SECRET: 'k', SCALEOUT_STRATEGY: 'store', SCALEOUT_STORE__TYPE: 'fixture', SCALEOUT_STORE__PACKAGE: PACKAGE, SCALEOUT_STORE__NAMESPACE: 'env', SCALEOUT_STORE__CAPACITY: '7' };
    const config = await loadConfig({ cwd: '/nonexistent-scaleout-dir', env });
    expect(config.store).to.deep.equal({ type: 'fixture', package: PACKAGE, namespace: 'env', capacity: 7 });
  });

  describe('refuses bad options with its own schema, naming the field', function () {
    const table: Array<[string, Record<string, unknown>, string, RegExp]> = [
      ['capacity out of range', { namespace: 'shop', capacity: 0 }, 'store.capacity', /got 0/],
      ['namespace missing', {}, 'store.namespace', /missing/],
      ['namespace of the wrong shape', { namespace: 'Shop Floor' }, 'store.namespace', /lower-case letter/],
      ['a field the type does not have', { namespace: 'shop', colour: 'red' }, 'store.colour', /unknown field/],
    ];
    for (const [what, fields, field, message] of table) {
      it(`${what}: createStrategy and loadConfig`, async function () {
        const config = { strategy: 'store', secret: SECRET, store: { type: 'fixture', package: PACKAGE, ...fields } };
        for (const attempt of [createStrategy(config as never), loadConfig({ cwd: '/nonexistent-scaleout-dir', env: {}, overrides: config })]) {
          const err = await attempt.then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err, what).to.be.instanceOf(ConfigError);
          expect(err).to.include({ code: ErrorCodes.CONFIG, field });
          expect((err as Error).message).to.match(message).and.include(`config ${field}`);
        }
      });
    }
  });

  it('names the install command when the named package is missing', async function () {
    const attempt = createStrategy({ strategy: 'store', secret: SECRET, store: { type: 'absent', package: 'scaleout-store-not-installed' } });
    await expect(attempt).to.be.rejectedWith(MissingPackageError, /npm install scaleout-store-not-installed/);
  });

  it('refuses a package that registers no such type', async function () {
    const attempt = createStrategy({ strategy: 'store', secret: SECRET, store: { type: 'elsewhere', package: PACKAGE } });
    await expect(attempt).to.be.rejected.and.eventually.include({ code: ErrorCodes.CONFIG, field: 'store.type' }).and.satisfy((e: Error) => e.message.includes(PACKAGE));
  });
});
