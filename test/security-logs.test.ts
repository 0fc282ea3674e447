import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { freePort, type HazelcastCluster, type RedisServer, startHazelcast, startRedis } from '@scaleout/harness';

// Logs and error messages travel further than the app: to log shippers, tickets, screenshots.
// Real Express and Koa apps run in a child process with every scaleout debug log on
// (NODE_DEBUG=scaleout*; third-party DEBUG logs are the operator's to keep off, see
// docs/security.md), are driven through success and failure (forged, oversized and garbled
// cookies, failing and down stores, Redis and Hazelcast values that are not sessions, the proxy,
// the cluster over Redis with junk on its channel, refused config), print
// their start-up errors as an app would (console.error), and not one line of what they wrote
// may hold the secret, a store password, a session's content or a session id.
// Random-looking markers, so that a leak of any 8 characters of one can be told from chance.
const SECRET = 'qZ7xK9pLm2Wv8RtYb4Nc';
const OLD_SECRET = 'Hj3sD6fGk1Qw5Ea0Uo9I';
const REDIS_PASSWORD = 'Tn8Bv2Cx7Zl4Mk6Jh0Gf';
const VALUE = 'Pq1Wo3Ei5Ru7Ty9Ua2Sd';
const root = fileURLToPath(new URL('..', import.meta.url));
const support = (f: string) => new URL(`./support/${f}`, import.meta.url).href;

// The child: plain JavaScript (run by node -e with tsx loaded for the TypeScript it imports).
const CHILD = `
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import Koa from 'koa';
import { Redis } from 'ioredis';
import { createStrategy, loadConfig, parseConfig } from '@scaleout/core';
import { createProxy } from '@scaleout/proxy';
import { FrameCodec, MessageType } from '@scaleout/cluster';
import { session as expressSession } from '@scaleout/express';
import { session as koaSession } from '@scaleout/koa';
import { main as proxyMain } from ${JSON.stringify(new URL('../packages/proxy/src/cli.ts', import.meta.url).href)};
import { FaultyStore } from ${JSON.stringify(support('faulty-store.ts'))};
import { startHttp } from ${JSON.stringify(support('http.ts'))};

const E = process.env;
const ids = new Set();
// Steps named "config:", "store:" or "proxy cli:" are meant to fail; any other that throws did not run its scenario.
const step = async (what, fn) => {
  console.log('step: ' + what);
  try { await fn(); } catch (err) {
    console.error('[' + what + ']', err);
    if (!/^(config|store|proxy cli):/.test(what)) console.log('step failed: ' + what);
  }
};

function expressApp(strategy, options = {}) {
  const app = express();
  app.get('/healthz', (_req, res) => { res.send('ok'); });
  app.use(expressSession(strategy, options));
  app.get('/set', (req, res) => { req.session.note = E.LOG_VALUE; res.json({ ok: true }); });
  app.get('/get', (req, res) => { res.json({ has: req.session?.note === E.LOG_VALUE }); });
  app.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.json({ ok: true }))));
  return app;
}
function koaApp(strategy, options = {}) {
  const app = new Koa();
  app.use(async (ctx, next) => { if (ctx.path === '/healthz') ctx.body = 'ok'; else await next(); });
  app.use(koaSession(strategy, app, options));
  app.use(async (ctx) => {
    if (ctx.path === '/set') { ctx.session.note = E.LOG_VALUE; ctx.body = { ok: true }; }
    else if (ctx.path === '/get') ctx.body = { has: ctx.session?.note === E.LOG_VALUE };
    else if (ctx.path === '/logout') { ctx.session = null; ctx.body = { ok: true }; }
  });
  return app.callback();
}

async function drive(url, name) {
  const call = async (path, cookie, method = 'GET') => {
    const res = await fetch(url + path, { method, headers: cookie ? { cookie } : {} });
    await res.text();
    for (const c of res.headers.getSetCookie()) {
      if (!c.startsWith(name + '=')) continue;
      const signed = decodeURIComponent(c.split(';')[0].slice(name.length + 1));
      if (signed.startsWith('s:')) ids.add(signed.slice(2, signed.lastIndexOf('.')));
    }
    return res;
  };
  const first = await call('/set');
  const cookie = first.headers.getSetCookie().find((c) => c.startsWith(name + '='))?.split(';')[0];
  await call('/get', cookie);
  await call('/get', cookie.slice(0, -3) + 'AAA');
  await call('/get', name + '=s%3A' + 'A'.repeat(9000));
  await call('/get', name + '=%E0%A4%A%ZZ');
  await call('/get', name + '="s:x;y"');
  await call('/get', 'x'.repeat(20000));
  await call('/logout', cookie, 'POST');
  await call('/get', cookie);
  return cookie;
}

/** Starts a session with a value in it; its cookie and id. */
async function startSession(url, name) {
  const res = await fetch(url + '/set');
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith(name + '='))?.split(';')[0];
  const signed = decodeURIComponent(cookie.slice(name.length + 1));
  const id = signed.slice(2, signed.lastIndexOf('.'));
  ids.add(id);
  return { cookie, id };
}

async function withServer(listener, fn) {
  const server = await startHttp(listener);
  try { await fn(server.url); } finally { await server.close(); }
}

const base = { secret: [E.LOG_SECRET, E.LOG_OLD_SECRET], strategy: 'store', session: { storeTimeout: '300ms' } };

for (const [label, build] of [['express', expressApp], ['koa', koaApp]]) {
  await step(label + ' memory', async () => {
    const strategy = await createStrategy({ ...base, nodeId: 'log-' + label });
    await withServer(build(strategy), (url) => drive(url, strategy.session.cookieName));
    await strategy.close();
  });
  await step(label + ' sticky', async () => {
    const strategy = await createStrategy({ ...base, strategy: 'sticky', nodeId: 'log-sticky-' + label });
    await withServer(build(strategy), (url) => drive(url, strategy.session.cookieName));
    await strategy.close();
  });
  await step(label + ' faulty store', async () => {
    const strategy = await createStrategy({ ...base, nodeId: 'log-faulty-' + label });
    const store = new FaultyStore();
    const faulty = { ...strategy, store };
    await withServer(build(faulty), async (url) => {
      const cookie = await drive(url, strategy.session.cookieName);
      store.failWrites = true;
      await fetch(url + '/set', { headers: { cookie } }).then((r) => r.text());
      store.failWrites = false;
      store.goDown();
      await fetch(url + '/set', { headers: { cookie } }).then((r) => r.text());
      store.comeUp();
    });
    await withServer(build(faulty, { onStoreDown: 'bypass' }), async (url) => {
      store.goDown();
      await fetch(url + '/get').then((r) => r.text());
      store.comeUp();
    });
    await store.close();
    await strategy.close();
  });
  await step(label + ' redis', async () => {
    const strategy = await createStrategy({ ...base, nodeId: 'log-redis-' + label, store: { type: 'redis', url: E.LOG_REDIS_URL, prefix: 'log:' } });
    const raw = new Redis(E.LOG_REDIS_URL);
    await withServer(build(strategy), async (url) => {
      const { cookie, id } = await startSession(url, strategy.session.cookieName);
      // A value that is not a session (a truncated write) under this session's key.
      await raw.set('log:' + id, '{"note":"' + E.LOG_VALUE + '"');
      await fetch(url + '/get', { headers: { cookie } }).then((r) => r.text());
      await raw.del('log:' + id);
      await raw.rpush('log:' + id, E.LOG_VALUE);
      await fetch(url + '/get', { headers: { cookie } }).then((r) => r.text());
    });
    raw.disconnect();
    await strategy.close();
  });
}

await step('cluster over redis, with junk and forged frames on the channel', async () => {
  const cfg = (nodeId) => ({ ...base, strategy: 'cluster', nodeId, cluster: { transport: { type: 'redis', url: E.LOG_REDIS_URL, channel: 'log-channel' }, discoveryWait: '200ms' } });
  const a = await createStrategy(cfg('log-cluster-a'));
  const b = await createStrategy(cfg('log-cluster-b'));
  const raw = new Redis(E.LOG_REDIS_URL);
  await withServer(expressApp(a), async (url) => {
    await drive(url, a.session.cookieName);
    await raw.publish('log-channel', Buffer.from('junk ' + E.LOG_VALUE));
    const forged = new FrameCodec(['not-the-secret']).encode({ type: MessageType.WRITES, origin: 'intruder', incarnation: 1, seq: 1, prev: 0, to: '', ts: Date.now() }, Buffer.from(E.LOG_VALUE));
    await raw.publish('log-channel', forged);
    await new Promise((r) => setTimeout(r, 200));
  });
  raw.disconnect();
  await a.close();
  await b.close();
});
await step('proxy in front of a node, with its status page and a dead target', async () => {
  const strategy = await createStrategy({ ...base, strategy: 'sticky', nodeId: 'log-proxied' });
  await withServer(expressApp(strategy), async (url) => {
    const proxy = createProxy({ listen: 0, secret: [E.LOG_SECRET, E.LOG_OLD_SECRET], targets: [{ id: 'log-proxied', url }, { id: 'log-dead', url: 'http://127.0.0.1:' + E.LOG_CLOSED_PORT }],
      healthCheck: { interval: '100ms', timeout: '50ms' }, status: { token: E.LOG_SECRET } });
    try {
      await proxy.listen();
      const purl = 'http://127.0.0.1:' + proxy.port;
      for (let i = 0; i < 4; i++) await drive(purl, strategy.session.cookieName);
      for (const q of ['', '?token=' + E.LOG_OLD_SECRET, '?token=' + E.LOG_SECRET]) await fetch(purl + '/__scaleout/status.json' + q).then((r) => r.text());
      await fetch(purl + '/__scaleout/status.json', { headers: { authorization: 'Bearer ' + E.LOG_OLD_SECRET } }).then((r) => r.text());
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await proxy.close();
    }
  });
  await strategy.close();
});

await step('express hazelcast', async () => {
  const strategy = await createStrategy({ ...base, nodeId: 'log-hazelcast', store: { type: 'hazelcast', members: [E.LOG_HZ_MEMBER], clusterName: E.LOG_HZ_CLUSTER, map: 'log-sessions' } });
  await withServer(expressApp(strategy), async (url) => {
    const { cookie, id } = await startSession(url, strategy.session.cookieName);
    // Values that are not sessions under this session's key: a truncated write, a number.
    await strategy.store.map.set(id, '{"note":"' + E.LOG_VALUE + '"');
    await fetch(url + '/get', { headers: { cookie } }).then((r) => r.text());
    await strategy.store.map.set(id, 42);
    await fetch(url + '/get', { headers: { cookie } }).then((r) => r.text());
  });
  await strategy.close();
});

// Start-up failures, printed whole (message, stack and causes) as an app's top level would.
const dir = join(E.LOG_DIR, 'cfg');
mkdirSync(dir, { recursive: true });
await step('config: unquoted secret', async () => {
  writeFileSync(join(dir, 'scaleout.config.json'), '{"strategy": "store", "secret": ' + E.LOG_SECRET + '}');
  await loadConfig({ cwd: dir, env: {} });
});
await step('config: truncated file', async () => {
  writeFileSync(join(dir, 'scaleout.config.json'), '{"secret": "' + E.LOG_SECRET + '", "session": {"ttl": ');
  await loadConfig({ cwd: dir, env: {} });
});
await step('config: bad env next to the secret', () => loadConfig({ cwd: E.LOG_DIR, env: { SCALEOUT_SECRET: E.LOG_SECRET + ',' + E.LOG_OLD_SECRET, SCALEOUT_SESSION__TTL: 'soon', SCALEOUT_SESSION__COOKIE_NAME: E.LOG_SECRET } }));
await step('config: secret of the wrong type', () => parseConfig({ secret: [E.LOG_SECRET, 42] }));
await step('config: password of the wrong type', () => parseConfig({ secret: E.LOG_SECRET, strategy: 'store', store: { type: 'redis', url: 'redis://127.0.0.1:1', password: [E.LOG_REDIS_PASSWORD] } }));
await step('config: redis url with a password, and nodes too', () => parseConfig({ secret: E.LOG_SECRET, strategy: 'store', store: { type: 'redis', url: E.LOG_REDIS_URL, nodes: ['127.0.0.1:7000'] } }));
await step('config: cluster transport url with a password and a bad port', () => parseConfig({ secret: E.LOG_SECRET, strategy: 'cluster', cluster: { transport: { type: 'redis', url: E.LOG_REDIS_URL.replace(/:\\d+$/, ':99999') } } }));
await step('store: wrong password', () => createStrategy({ ...base, store: { type: 'redis', url: E.LOG_REDIS_URL.replace(encodeURIComponent(E.LOG_REDIS_PASSWORD), encodeURIComponent(E.LOG_REDIS_PASSWORD) + 'x'), connectTimeout: '1s' } }));
await step('store: nothing listening', () => createStrategy({ ...base, store: { type: 'redis', url: 'redis://:' + encodeURIComponent(E.LOG_REDIS_PASSWORD) + '@127.0.0.1:' + E.LOG_CLOSED_PORT, connectTimeout: '500ms' } }));

await step('proxy cli: unquoted status token', async () => {
  const file = join(dir, 'proxy.json');
  writeFileSync(file, '{"host": "0.0.0.0", "targets": [{"id": "a", "url": "http://127.0.0.1:1"}], "status": {"token": ' + E.LOG_SECRET + '}}');
  await proxyMain(['--config', file], process.stdout, process.stderr);
});
await step('proxy cli: token too short', async () => {
  const file = join(dir, 'proxy.json');
  writeFileSync(file, JSON.stringify({ host: '0.0.0.0', secret: E.LOG_SECRET, targets: [{ id: 'a', url: 'http://127.0.0.1:1' }], status: { token: E.LOG_SECRET.slice(0, 12) } }));
  await proxyMain(['--config', file], process.stdout, process.stderr);
});

writeFileSync(join(E.LOG_DIR, 'ids.json'), JSON.stringify([...ids]));
console.log('scenario done');
// Everything above was closed, so the process should end by itself; if it has not after 10 s,
// say what holds it (for whoever reads the output) and end it: this test is about what is logged.
setTimeout(() => {
  const handles = process._getActiveHandles().map((h) => h.constructor?.name + (h.remoteAddress ? ' ' + h.remoteAddress + ':' + h.remotePort : h.address?.()?.port ? ' :' + h.address().port : ''));
  console.log('lingering handles: ' + handles.join(', '));
  process.exit(0);
}, 10_000).unref();
`;

describe('security: no secret or session content in logs and error messages', function () {
  this.timeout(90_000);
  let redis: RedisServer;
  let hazelcast: HazelcastCluster;
  let dir: string;
  let output = '';
  let ids: string[] = [];
  let exitCode: number | null = null;

  before(async function () {
    [redis, hazelcast] = await Promise.all([startRedis({ password: REDIS_PASSWORD }), startHazelcast({ members: 1, backupCount: 0, clusterName: 'log-test' })]);
    dir = mkdtempSync(join(tmpdir(), 'scaleout-logs-'));
    const child = spawn(process.execPath, ['--conditions=@scaleout/source', '--import', 'tsx', '--input-type=module', '-e', CHILD], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: 'development',
        NODE_DEBUG: 'scaleout*',
        LOG_SECRET: SECRET,
        LOG_OLD_SECRET: OLD_SECRET,
        LOG_REDIS_PASSWORD: REDIS_PASSWORD,
        LOG_REDIS_URL: redis.url,
        LOG_VALUE: VALUE,
        LOG_DIR: dir,
        LOG_CLOSED_PORT: String(await freePort()),
        LOG_HZ_MEMBER: hazelcast.addresses[0]!,
        LOG_HZ_CLUSTER: hazelcast.clusterName,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    // A hung scenario must fail the test, not the suite: the child gets a minute.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    exitCode = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(timer);
    try {
      ids = JSON.parse(readFileSync(join(dir, 'ids.json'), 'utf8')) as string[];
    } catch {
      ids = [];
    }
  });
  after(async function () {
    await Promise.all([redis?.stop(), hazelcast?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The lines of the captured output that contain `needle`. */
  const linesWith = (needle: string) => output.split('\n').filter((l) => l.includes(needle));
  /** The lines that contain any 8 consecutive characters of `secret` (error messages quote snippets). */
  const linesWithPartOf = (secret: string) => [...new Set(Array.from({ length: secret.length - 7 }, (_, i) => linesWith(secret.slice(i, i + 8))).flat())];

  it('ran the whole scenario with debug logging on', function () {
    const lastStep = output.split('\n').filter((l) => l.startsWith('step: ')).pop();
    expect(exitCode, `the scenario stopped (exit ${exitCode}) in "${lastStep}"; the output ends with:\n${output.slice(-1500)}`).to.equal(0);
    expect(output).to.include('scenario done');
    const failed = output.split('\n').filter((l) => l.startsWith('step failed: '));
    const errorOf = (line: string) => {
      const at = output.indexOf(`[${line.slice('step failed: '.length)}]`);
      return at < 0 ? '(its error was not printed)' : output.slice(at, at + 1500);
    };
    expect(failed, `scenario steps that threw:\n${failed.map(errorOf).join('\n')}`).to.deep.equal([]);
    expect(output, 'scaleout debug lines').to.match(/^SCALEOUT:[A-Z-]+ \d+: /m);
    expect(output, 'start-up errors were printed').to.include('ConfigError');
    expect(ids.length, 'session ids seen').to.be.at.least(8);
  });

  it('never shows the session secret (current or retired)', function () {
    expect(linesWithPartOf(SECRET), 'lines with the secret').to.deep.equal([]);
    expect(linesWithPartOf(OLD_SECRET), 'lines with the retired secret').to.deep.equal([]);
  });

  it('never shows the Redis password', function () {
    expect(linesWithPartOf(REDIS_PASSWORD), 'lines with the Redis password').to.deep.equal([]);
  });

  it('never shows session content', function () {
    expect(linesWithPartOf(VALUE), 'lines with a session value').to.deep.equal([]);
  });

  it('never shows a session id (a bearer credential)', function () {
    const leaks = ids.flatMap((id) => linesWith(id));
    expect(leaks, 'lines with a session id').to.deep.equal([]);
  });
});
