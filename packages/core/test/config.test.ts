import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig, configFromEnv } from '@scaleout/core';

describe('config', function () {
  let emptyDir: string;
  before(async function () {
    emptyDir = await mkdtemp(join(tmpdir(), 'scaleout-config-empty-'));
  });
  after(async function () {
    await rm(emptyDir, { recursive: true, force: true });
  });

  /**
   * Validates `input` as a node does at start-up: loadConfig() checks the shared fields and then the
   * `store` and `cluster.transport` sections with the schema of their type's package.
   */
  const validate = (input: unknown) =>
    input !== null && typeof input === 'object' ? loadConfig({ cwd: emptyDir, env: {}, overrides: input as Record<string, unknown> }) : parseConfig(input);

  describe('refuses every bad value, naming the field', function () {
    const table: Array<[string, unknown, string, RegExp?]> = [
      ['strategy not allowed', { secret: 's', strategy: 'magic' }, 'strategy', /"sticky"\|"cluster"\|"store"/],
      ['secret missing', {}, 'secret', /missing/],
      ['secret empty string', { secret: '' }, 'secret'],
      ['secret empty array', { secret: [] }, 'secret'],
      ['secret of the wrong type', { secret: 42 }, 'secret'],
      ['nodeId with a space', { secret: 's', nodeId: 'node 1' }, 'nodeId', /letters, digits/],
      ['ttl not a duration', { secret: 's', session: { ttl: 'forever' } }, 'session.ttl', /duration/],
      ['ttl negative', { secret: 's', session: { ttl: -5 } }, 'session.ttl'],
      ['cookie name with a semicolon', { secret: 's', session: { cookieName: 'a;b' } }, 'session.cookieName', /RFC 6265/],
      ['onStoreDown unknown', { secret: 's', session: { onStoreDown: 'panic' } }, 'session.onStoreDown'],
      ['sameSite unknown', { secret: 's', session: { sameSite: 'loose' } }, 'session.sameSite'],
      ['unknown top-level field', { secret: 's', strategyy: 'store' }, 'strategyy', /unknown field/],
      ['unknown store type', { secret: 's', store: { type: 'mongo' } }, 'store.type', /memory.*store\.package/],
      ['store package not a package name', { secret: 's', store: { type: 'mongo', package: 'not a name' } }, 'store.package', /npm package name/],
      ['redis without an address', { secret: 's', store: { type: 'redis' } }, 'store.url', /exactly one of/],
      ['redis url of another scheme', { secret: 's', store: { type: 'redis', url: 'http://x:1' } }, 'store.url', /redis:\/\//],
      ['sentinel without a name', { secret: 's', store: { type: 'redis', sentinels: ['127.0.0.1:26379'] } }, 'store.name'],
      ['cluster node not host:port', { secret: 's', store: { type: 'redis', nodes: ['127.0.0.1'] } }, 'store.nodes.0', /host:port/],
      ['waitReplicas negative', { secret: 's', store: { type: 'redis', url: 'redis://a:1', waitReplicas: -1 } }, 'store.waitReplicas'],
      ['maxSessions fractional', { secret: 's', store: { type: 'memory', maxSessions: 1.5 } }, 'store.maxSessions'],
      ['hazelcast without members', { secret: 's', store: { type: 'hazelcast' } }, 'store.members'],
      ['cluster transport unknown', { secret: 's', strategy: 'cluster', cluster: { transport: { type: 'carrier-pigeon' } } }, 'cluster.transport.type'],
      ['redis transport without a url', { secret: 's', strategy: 'cluster', cluster: { transport: { type: 'redis' } } }, 'cluster.transport.url', /missing/],
      ['unknown field of the redis store', { secret: 's', store: { type: 'redis', url: 'redis://a:1', urll: 'x' } }, 'store.urll', /unknown field/],
      ['not an object', 'strategy=store', '(root)'],
    ];
    for (const [what, input, field, message] of table) {
      it(what, async function () {
        let caught: unknown;
        try {
          await validate(input);
        } catch (err) {
          caught = err;
        }
        expect(caught, 'refused').to.be.instanceOf(ConfigError);
        const err = caught as ConfigError;
        expect(err.code).to.equal('ERR_SCALEOUT_CONFIG');
        expect(err.field).to.equal(field);
        expect(err.message).to.include(field === '(root)' ? 'config' : field);
        if (message) expect(err.message).to.match(message);
      });
    }
  });

  it('never shows a secret or password in an error', async function () {
    await expect(validate({ secret: 'hunter2-very-secret', store: { type: 'redis', url: 'redis://a:1', password: 12345 } }))
      .to.be.rejectedWith(ConfigError)
      .that.eventually.satisfies((e: Error) => e.message.includes('store.password') && !e.message.includes('hunter2') && !e.message.includes('12345'));
  });

  it('never shows the credentials of a URL in an error', async function () {
    await expect(validate({ secret: 's', store: { type: 'redis', url: 'redis://user:pa55word@127.0.0.1:6379', nodes: ['a:1'] } }))
      .to.be.rejectedWith(ConfigError)
      .that.eventually.satisfies((e: Error) => !e.message.includes('pa55word') && e.message.includes('redis://[redacted]@127.0.0.1'));
  });

  it('refuses cookie names that are members of JavaScript objects', function () {
    for (const name of ['constructor', '__proto__', 'toString']) {
      expect(() => parseConfig({ secret: 's', session: { cookieName: name } }), name).to.throw(ConfigError, /session\.cookieName/);
    }
  });

  it('fills in defaults and resolves durations to milliseconds', function () {
    const c = parseConfig({ secret: 'one', session: { ttl: '5m' } });
    expect(c.strategy).to.equal('sticky');
    expect(c.secret).to.deep.equal(['one']);
    expect(c.session).to.include({ ttl: 300_000, cookieName: 'sid', storeTimeout: 2000, onStoreDown: 'fail', sameSite: 'lax' });
    expect(c.store).to.deep.equal({ type: 'memory', maxSessions: 100_000 });
    expect(parseConfig(c), 'a parsed config parses to itself').to.deep.equal(c);
  });

  it('maps SCALEOUT_* variables onto fields', function () {
    expect(configFromEnv({ SCALEOUT_NODE_ID: 'n9', SCALEOUT_STORE__WAIT_REPLICAS: '2', SCALEOUT_SECRET: 'a,b', SCALEOUT_STORE__NODES: '["h:1","h:2"]', OTHER: 'x' })).to.deep.equal({
      nodeId: 'n9',
      store: { waitReplicas: '2', nodes: ['h:1', 'h:2'] },
      secret: ['a', 'b'],
    });
  });

  describe('loadConfig', function () {
    let dir: string;
    before(async function () {
      dir = await mkdtemp(join(tmpdir(), 'scaleout-config-'));
    });
    after(async function () {
      await rm(dir, { recursive: true, force: true });
    });

    it('reads scaleout.config.json and lets the environment beat the file', async function () {
      await writeFile(join(dir, 'scaleout.config.json'), JSON.stringify({ strategy: 'store', nodeId: 'from-file', secret: 'file', session: { ttl: '10m' } }));
      const c = await loadConfig({ cwd: dir, env: { SCALEOUT_NODE_ID: 'from-env', SCALEOUT_SESSION__TTL: '1m' } });
      expect(c.strategy).to.equal('store');
      expect(c.nodeId).to.equal('from-env');
      expect(c.session.ttl).to.equal(60_000);
      expect(c.secret).to.deep.equal(['file']);
    });

    it('reads the file named by SCALEOUT_CONFIG and refuses a missing one', async function () {
      await writeFile(join(dir, 'other.json'), JSON.stringify({ secret: 'x', nodeId: 'other' }));
      expect((await loadConfig({ cwd: dir, env: { SCALEOUT_CONFIG: 'other.json' } })).nodeId).to.equal('other');
      await expect(loadConfig({ cwd: dir, env: { SCALEOUT_CONFIG: 'nope.json' } })).to.be.rejectedWith(ConfigError, /cannot be read/);
    });

    it('refuses a file that is not JSON, naming the file', async function () {
      await writeFile(join(dir, 'bad.json'), '{ "secret": "x", ');
      await expect(loadConfig({ file: join(dir, 'bad.json'), env: {} })).to.be.rejectedWith(ConfigError, /bad\.json is not valid JSON/);
    });

    it('works from the environment alone when there is no file', async function () {
      const c = await loadConfig({ cwd: join(dir, 'missing-dir'), env: { SCALEOUT_SECRET: 'e' } });
      expect(c.secret).to.deep.equal(['e']);
    });

    it('refuses a variable whose name has an empty segment, naming the variable', async function () {
      await expect(loadConfig({ cwd: join(dir, 'missing-dir'), env: { SCALEOUT_SECRET: 'e', SCALEOUT___SECRET: 'x' } }))
        .to.be.rejectedWith(ConfigError, /SCALEOUT___SECRET names no config field/);
    });

    it('refuses a file with a JSON syntax error by position, never quoting the text (it holds secrets)', async function () {
      await writeFile(join(dir, 'typo.json'), '{\n  "secret": hunter2-unquoted\n}');
      const err = (await loadConfig({ file: join(dir, 'typo.json'), env: {} }).then(
        () => undefined,
        (e: unknown) => e,
      )) as ConfigError;
      expect(err).to.be.instanceOf(ConfigError);
      expect(err.message).to.match(/typo\.json is not valid JSON/);
      expect(err.message).to.not.include('hunter2');
      expect(err.cause).to.equal(undefined);
    });

    it('refuses a bad value from the environment, naming the field', async function () {
      await expect(loadConfig({ cwd: join(dir, 'missing-dir'), env: { SCALEOUT_SECRET: 'e', SCALEOUT_SESSION__TTL: 'soon' } })).to.be.rejectedWith(ConfigError, /session\.ttl/);
    });
  });
});
