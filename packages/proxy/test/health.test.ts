import { request } from 'node:http';
import { expect } from 'chai';
import { ConfigError } from '@scaleout/core';
import { createProxy, type Proxy, type ProxyConfigInput } from '@scaleout/proxy';
import { eventually, freePort } from '@scaleout/harness';
import { startCli, type RunningCli } from './fixtures/cli.js';
import { spawnNodes, type NodeProcess } from './fixtures/nodes.js';

const SECRET = 'health-test-secret';
const TOKEN = 'a-status-token-of-enough-length';

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** One GET or HEAD with its status, `Connection` header and JSON body. */
function get(port: number, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<{ status: number; connection: string | undefined; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body: parse(text) }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('proxy health endpoint and drain', function () {
  this.timeout(60_000);
  let nodes: NodeProcess[];
  const proxies: Proxy[] = [];

  before(async () => {
    nodes = await spawnNodes(2, SECRET, () => 'express', (i) => (i === 1 ? 400 : 0));
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all(nodes.map((n) => n.kill()));
  });

  async function start(extra: Partial<ProxyConfigInput> = {}, which = nodes): Promise<Proxy> {
    const p = createProxy({
      listen: 0,
      secret: SECRET,
      targets: which.map((n) => ({ id: n.id, url: n.url })),
      // Lenient enough that a busy machine does not mark a live node down, quick enough to see a dead one.
      healthCheck: { interval: '250ms', timeout: '250ms', rise: 1, fall: 3 },
      timeouts: { shutdown: '5s' },
      ...extra,
    });
    proxies.push(p);
    await p.listen();
    return p;
  }

  it('answers 200 with the reason while it can serve; HEAD too; other methods 405; no token needed', async () => {
    const p = await start({ status: { token: TOKEN } });
    const res = await get(p.port!, '/__scaleout/health');
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ ok: true, state: 'serving', targetsUp: 2, targets: 2 });
    expect(res.connection).to.equal('close');
    expect((await get(p.port!, '/__scaleout/health?probe=1', 'HEAD')).status).to.equal(200);
    expect((await get(p.port!, '/__scaleout/health', 'POST')).status).to.equal(405);
    // The status page next to it still wants its token.
    expect((await get(p.port!, '/__scaleout/status.json')).status).to.equal(401);
    // A path that only starts like it is the app's.
    expect((await get(p.port!, '/__scaleout/healthz')).body).to.have.property('node');
  });

  it('answers 503 "no-target-up" once every target is down, and 200 again when one comes back', async () => {
    const [victim] = await spawnNodes(1, SECRET);
    try {
      const p = await start({}, [victim!]);
      expect((await get(p.port!, '/__scaleout/health')).status).to.equal(200);
      await victim!.kill();
      const down = await eventually(async () => {
        const r = await get(p.port!, '/__scaleout/health');
        return r.status === 503 ? r : undefined;
      }, 5000, 'health 503 after the only target died');
      expect(down!.body).to.include({ ok: false, state: 'no-target-up', targetsUp: 0 });
      await victim!.restart();
      await eventually(async () => (await get(p.port!, '/__scaleout/health')).status === 200, 5000, 'health 200 after the target came back');
    } finally {
      await victim!.kill();
    }
  });

  it('drain(): the check fails at once while requests, in flight and new, are still served with Connection: close', async () => {
    const p = await start({ targets: [{ id: nodes[1]!.id, url: nodes[1]!.url }] }); // the slow node: 400 ms per answer
    let drained = 0;
    p.on('drain', () => drained++);
    const inFlight = get(p.port!, '/whoami?slow');
    await new Promise((r) => setTimeout(r, 100));
    p.drain();
    p.drain();
    expect(drained).to.equal(1);
    const h = await get(p.port!, '/__scaleout/health');
    expect(h.status).to.equal(503);
    expect(h.body).to.include({ ok: false, state: 'draining' });
    const first = await inFlight;
    expect(first.status).to.equal(200);
    expect(first.body).to.deep.equal({ node: 'node-2' });
    const later = await get(p.port!, '/whoami');
    expect(later.status).to.equal(200);
    expect(later.connection).to.equal('close');
    p.undrain();
    expect((await get(p.port!, '/__scaleout/health')).status).to.equal(200);
  });

  it('answers 503 "closing" while close() waits for in-flight requests', async () => {
    const p = await start({ targets: [{ id: nodes[1]!.id, url: nodes[1]!.url }] });
    const slow = get(p.port!, '/whoami');
    await new Promise((r) => setTimeout(r, 100));
    expect(p.health()).to.include({ ok: true, state: 'serving' });
    const closed = p.close();
    expect(p.health()).to.include({ ok: false, state: 'closing' });
    expect((await slow).status).to.equal(200);
    await closed;
  });

  it('health.enabled false hands the path to the app; health.path moves it', async () => {
    const off = await start({ health: { enabled: false } });
    expect((await get(off.port!, '/__scaleout/health')).body).to.have.property('node');
    const moved = await start({ health: { path: '/lb-check' } });
    expect((await get(moved.port!, '/lb-check')).body).to.include({ state: 'serving' });
  });

  it('refuses a health path that is not an absolute path, naming the field', () => {
    expect(() => createProxy({ targets: [{ id: 'a', url: 'http://127.0.0.1:1' }], health: { path: 'health' } })).to.throw(ConfigError, 'health.path');
  });

  describe('scaleout-proxy CLI', () => {
    let cli: RunningCli | undefined;
    after(async () => void (await cli?.stop('SIGKILL')));

    it('SIGUSR2 drains the running proxy: health 503, requests still served; SIGTERM then exits 0', async () => {
      const port = await freePort();
      cli = await startCli({ listen: port, secret: SECRET, targets: nodes.map((n) => ({ id: n.id, url: n.url })), healthCheck: { interval: '200ms', timeout: '100ms' } });
      expect((await get(port, '/__scaleout/health')).status).to.equal(200);
      cli.signal('SIGUSR2');
      await eventually(async () => (await get(port, '/__scaleout/health')).status === 503, 5000, 'health 503 after SIGUSR2');
      expect((await get(port, '/whoami')).status).to.equal(200);
      expect(cli.output()).to.include('SIGUSR2: draining');
      expect(await cli.stop('SIGTERM')).to.equal(0);
      cli = undefined;
    });
  });
});
