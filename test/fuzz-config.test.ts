import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { ConfigError, configFromEnv, loadConfig, parseConfig, type ScaleoutConfig } from '@scaleout/core';
import { loadProxyConfig, parseProxyConfig, type ProxyConfig } from '@scaleout/proxy';
// Registered, the backends' types are validated by parseConfig() too, so the fuzzing reaches their schemas.
import '@scaleout/redis';
import '@scaleout/hazelcast';
import '@scaleout/cluster';

// The config loaders read files and environment variables written by people: whatever they hold,
// the answer is a valid config or a ConfigError naming the field, never another exception and
// never a config that breaks the invariants the rest of the code relies on.
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);

/** Runs `load`; passes when it returns or throws a ConfigError, fails on any other throw. */
async function configOrConfigError<T>(load: () => T | Promise<T>, input: unknown): Promise<T | ConfigError> {
  try {
    return await load();
  } catch (err) {
    if (!(err instanceof ConfigError)) {
      expect.fail(`not a ConfigError for ${JSON.stringify(input)?.slice(0, 300)}: ${(err as Error)?.stack ?? String(err)}`);
    }
    expect(err.code).to.equal('ERR_SCALEOUT_CONFIG');
    expect(err.field, err.message).to.be.a('string').and.not.equal('');
    expect(err.message.length).to.be.below(4000);
    return err;
  }
}

/** Values people (and attackers) put in config fields. */
const fieldValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('30m', '5s', '250ms', '-1', '1e309', 'NaN', 'Infinity', '0', '00', ' 7 ', 'true', 'false', 'a,b', ',', 'memory', 'redis', 'hazelcast', 'in-process',
    'sticky', 'store', 'cluster', 'redis://127.0.0.1:6379', 'rediss://u:p@h:1', 'redis://[::1]:1', 'http://x', '127.0.0.1:1', '[::1]:6379', 'x:99999', '__proto__', 'constructor'),
  fc.string({ maxLength: 40 }),
  fc.double(),
  fc.integer(),
);

const CORE_PATHS = [
  'strategy', 'nodeId', 'secret', 'session', 'session.ttl', 'session.cookieName', 'session.storeTimeout', 'session.onStoreDown', 'session.secure', 'session.sameSite',
  'sticky', 'sticky.cookieName', 'cluster', 'cluster.transport', 'cluster.transport.type', 'cluster.transport.url', 'cluster.transport.channel', 'cluster.transport.members',
  'cluster.transport.topic', 'cluster.transport.bus', 'cluster.readyTimeout', 'cluster.maxMessageBytes', 'store', 'store.type', 'store.url', 'store.sentinels', 'store.name',
  'store.nodes', 'store.prefix', 'store.password', 'store.db', 'store.tls', 'store.waitReplicas', 'store.waitTimeout', 'store.maxSessions', 'store.members', 'store.map',
  '__proto__', 'constructor', 'unknownField',
];
const CORE_BASES = [
  { secret: 's', strategy: 'sticky' },
  { secret: ['a', 'b'], strategy: 'store', store: { type: 'redis', url: 'redis://127.0.0.1:6379', waitReplicas: 1 } },
  { secret: 's', strategy: 'store', store: { type: 'hazelcast', members: ['127.0.0.1:5701'] } },
  { secret: 's', strategy: 'cluster', cluster: { transport: { type: 'redis', url: 'redis://127.0.0.1:6379' } } },
  { secret: 's', strategy: 'cluster', cluster: { transport: { type: 'in-process', bus: 'b' } } },
];

/** Sets `path` (dotted) in a deep copy of `base`, creating objects on the way. */
function withField(base: unknown, path: string, value: unknown): unknown {
  const out = structuredClone(base) as Record<string, unknown>;
  const parts = path.split('.');
  let node = out;
  for (const p of parts.slice(0, -1)) {
    if (node[p] === null || typeof node[p] !== 'object') Object.defineProperty(node, p, { value: {}, enumerable: true, writable: true, configurable: true });
    node = node[p] as Record<string, unknown>;
  }
  // defineProperty, so `__proto__` becomes an own key as JSON.parse makes it.
  Object.defineProperty(node, parts[parts.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

/** A valid config with one to three fields replaced by anything. */
function nearValid(bases: readonly unknown[], paths: readonly string[]) {
  return fc
    .tuple(fc.constantFrom(...bases), fc.array(fc.tuple(fc.constantFrom(...paths), fieldValue), { minLength: 1, maxLength: 3 }))
    .map(([base, edits]) => edits.reduce((acc, [p, v]) => withField(acc, p, v), base));
}

/** What every accepted core config guarantees to the code that uses it. */
function checkCoreInvariants(c: ScaleoutConfig): void {
  expect(c.secret).to.be.an('array').with.length.greaterThan(0);
  for (const s of c.secret) expect(s).to.be.a('string').and.not.equal('');
  expect(['sticky', 'cluster', 'store']).to.include(c.strategy);
  expect(c.nodeId).to.match(/^[A-Za-z0-9._:-]{1,128}$/);
  for (const d of [c.session.ttl, c.session.storeTimeout]) expect(Number.isInteger(d) && d >= 0 && d <= 2 ** 31 - 1, String(d)).to.equal(true);
  expect(c.session.cookieName).to.match(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/);
  expect(c.sticky.cookieName).to.match(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/);
}

describe('fuzz: config loaders', function () {
  this.timeout(60_000);

  describe('parseConfig', function () {
    it('gives a valid config or a ConfigError for any JSON value (FUZZ_RUNS runs)', async function () {
      await fc.assert(
        fc.asyncProperty(fc.jsonValue(), async (input) => {
          const out = await configOrConfigError(() => parseConfig(input), input);
          if (!(out instanceof ConfigError)) checkCoreInvariants(out);
        }),
        { numRuns: RUNS },
      );
    });

    it('gives a valid config or a ConfigError for a valid config with fields replaced by anything (FUZZ_RUNS runs)', async function () {
      await fc.assert(
        fc.asyncProperty(nearValid(CORE_BASES, CORE_PATHS), async (input) => {
          const out = await configOrConfigError(() => parseConfig(input), input);
          if (!(out instanceof ConfigError)) checkCoreInvariants(out);
        }),
        { numRuns: RUNS },
      );
    });
  });

  describe('credentials in refused values', function () {
    // A password typed into a URL, raw or percent-encoded, must not come back in the error that
    // refuses the URL (error messages end up in logs and tickets).
    const pwChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
    const password = fc.string({ unit: pwChar, minLength: 6, maxLength: 24 }).map((p) => `Zq${p}`);
    const broken = (url: string) => [
      { secret: 's', strategy: 'store', store: { type: 'redis', url, nodes: ['127.0.0.1:7000'] } },
      { secret: 's', strategy: 'store', store: { type: 'redis', url: `${url}x` } },
      { secret: 's', strategy: 'cluster', cluster: { transport: { type: 'redis', url: url.replace(/:\d+$/, ':99999') } } },
    ];

    it('a ConfigError never shows a URL\'s password, raw or percent-encoded (FUZZ_RUNS runs)', async function () {
      await fc.assert(
        fc.asyncProperty(password, fc.boolean(), fc.constantFrom('', 'user'), async (pw, encode, user) => {
          const shown = encode ? encodeURIComponent(pw) : pw;
          for (const input of broken(`redis://${user}:${shown}@127.0.0.1:6379`)) {
            const out = await configOrConfigError(() => parseConfig(input), input);
            if (!(out instanceof ConfigError)) continue;
            const text = `${out.message} ${String((out.cause as Error | undefined)?.message ?? '')}`;
            for (const form of new Set([pw, shown, JSON.stringify(pw).slice(1, -1), JSON.stringify(shown).slice(1, -1)])) {
              expect(text.includes(form), `${JSON.stringify(form)} shown in: ${text}`).to.equal(false);
            }
          }
        }),
        { numRuns: RUNS },
      );
    });
  });

  describe('configFromEnv and loadConfig with environment maps', function () {
    const segment = fc.oneof(
      fc.constantFrom('SECRET', 'NODE_ID', 'STRATEGY', 'SESSION', 'TTL', 'COOKIE_NAME', 'STORE', 'TYPE', 'URL', 'WAIT_REPLICAS', 'CLUSTER', 'TRANSPORT', 'MEMBERS', 'PROTO', 'CONSTRUCTOR', 'PROTOTYPE', ''),
      fc.string({ maxLength: 8 }),
    );
    const envKey = fc.array(segment, { minLength: 1, maxLength: 3 }).map((segs) => `SCALEOUT_${segs.join('__')}`);
    const envValue = fc.oneof(fieldValue.map((v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '')), fc.string({ maxLength: 60 }));
    const envArb = fc.dictionary(fc.oneof(envKey, fc.constantFrom('SCALEOUT_SECRET', 'SCALEOUT_STRATEGY', 'SCALEOUT_STORE__TYPE', 'PATH')), envValue, { maxKeys: 6 });

    it('configFromEnv never throws and never touches Object.prototype (FUZZ_RUNS runs)', function () {
      fc.assert(
        fc.property(envArb, (env) => {
          const out = configFromEnv(env);
          expect(out).to.be.an('object');
          expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
        }),
        { numRuns: RUNS },
      );
    });

    it('loadConfig gives a valid config or a ConfigError for any environment (FUZZ_RUNS runs)', async function () {
      const cwd = mkdtempSync(join(tmpdir(), 'scaleout-fuzz-env-'));
      try {
        await fc.assert(
          fc.asyncProperty(envArb, async (env) => {
            const out = await configOrConfigError(() => loadConfig({ cwd, env }), env);
            if (!(out instanceof ConfigError)) checkCoreInvariants(out);
          }),
          { numRuns: RUNS },
        );
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    });
  });

  describe('loadConfig with config files', function () {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'scaleout-fuzz-file-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('gives a valid config or a ConfigError for any file text (FUZZ_RUNS runs)', async function () {
      const fileText = fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        nearValid(CORE_BASES, CORE_PATHS).map((v) => JSON.stringify(v)),
        fc.tuple(nearValid(CORE_BASES, CORE_PATHS).map((v) => JSON.stringify(v)), fc.nat()).map(([t, n]) => t.slice(0, n % (t.length + 1))),
        fc.string({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
      );
      const file = join(dir, 'scaleout.config.json');
      await fc.assert(
        fc.asyncProperty(fileText, async (text) => {
          writeFileSync(file, text);
          const out = await configOrConfigError(() => loadConfig({ cwd: dir, env: {} }), text);
          if (!(out instanceof ConfigError)) checkCoreInvariants(out);
        }),
        { numRuns: RUNS },
      );
    });

    it('refuses a missing explicit file and a directory with a ConfigError', async function () {
      await expect(loadConfig({ file: join(dir, 'nope.json'), env: {} })).to.be.rejectedWith(ConfigError);
      await expect(loadConfig({ file: dir, env: {} })).to.be.rejectedWith(ConfigError);
    });
  });

  describe('the proxy config loader', function () {
    const PROXY_BASES = [
      { targets: [{ id: 'a', url: 'http://127.0.0.1:3001' }] },
      { secret: 's', listen: 0, targets: [{ id: 'a', url: 'http://127.0.0.1:3001' }, { id: 'b', url: 'http://127.0.0.1:3002', weight: 2 }], sticky: { mode: 'insert' } },
      { mode: 'tcp', algorithm: 'ip-hash', targets: [{ id: 'a', url: 'tcp://127.0.0.1:3001' }] },
      { host: '0.0.0.0', status: { token: 'a-token-of-sixteen-chars' }, targets: [{ id: 'a', url: 'http://[::1]:3001' }] },
    ];
    const PROXY_PATHS = [
      'listen', 'host', 'mode', 'algorithm', 'secret', 'targets', 'targets.0', 'targets.0.id', 'targets.0.url', 'targets.0.weight', 'targets.1', 'sticky', 'sticky.mode',
      'sticky.cookieName', 'sticky.secure', 'sticky.sameSite', 'sticky.maxAge', 'sticky.nocache', 'healthCheck', 'healthCheck.path', 'healthCheck.interval', 'healthCheck.timeout',
      'healthCheck.rise', 'passive.ejectTime', 'timeouts', 'timeouts.connect', 'timeouts.server', 'retries', 'trustProxy', 'status', 'status.enabled', 'status.path',
      'status.token', 'maxHeaderSize', '__proto__', 'unknownField',
    ];

    function checkProxyInvariants(c: ProxyConfig): void {
      expect(c.targets).to.be.an('array').with.length.greaterThan(0);
      expect(new Set(c.targets.map((t) => t.id)).size).to.equal(c.targets.length);
      expect(Number.isInteger(c.listen) && c.listen >= 0 && c.listen <= 65535).to.equal(true);
      if (c.sticky.mode !== 'none') expect(c.secret).to.be.an('array').with.length.greaterThan(0);
      // The status page is never open on a non-loopback address without a token.
      if (c.status.enabled && c.mode === 'http' && !/^(127\.|localhost$|::1$)/.test(c.host)) expect(c.status.token).to.be.a('string').with.length.of.at.least(16);
      expect(c.status.path).to.match(/^\//);
    }

    it('parseProxyConfig gives a valid config or a ConfigError for any JSON value and near-valid configs (FUZZ_RUNS runs)', async function () {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.jsonValue(), nearValid(PROXY_BASES, PROXY_PATHS)), async (input) => {
          const out = await configOrConfigError(() => parseProxyConfig(input), input);
          if (!(out instanceof ConfigError)) checkProxyInvariants(out);
        }),
        { numRuns: RUNS },
      );
    });

    it('loadProxyConfig gives a valid config or a ConfigError for any file text (FUZZ_RUNS runs)', async function () {
      const dir = mkdtempSync(join(tmpdir(), 'scaleout-fuzz-proxy-'));
      const file = join(dir, 'proxy.json');
      try {
        const text = fc.oneof(nearValid(PROXY_BASES, PROXY_PATHS).map((v) => JSON.stringify(v)), fc.string({ maxLength: 120 }));
        await fc.assert(
          fc.asyncProperty(text, async (t) => {
            writeFileSync(file, t);
            const out = await configOrConfigError(() => loadProxyConfig(file), t);
            if (!(out instanceof ConfigError)) checkProxyInvariants(out);
          }),
          { numRuns: RUNS },
        );
        await expect(loadProxyConfig(join(dir, 'missing.json'))).to.be.rejectedWith(ConfigError);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
