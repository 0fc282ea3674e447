import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parseCommandLine, resolveOptions, type SampleClusterOptions } from '../examples/sample-cluster/src/options.js';
import { eventually } from '@scaleout/harness';
import { parsePrometheusText, sampleValue } from './support/prometheus.js';
import { CookieClient, groupAlive, launchSampleCluster, waitForTargetState, type LaunchedCluster } from './support/sample-cluster.js';

const LAUNCHER = fileURLToPath(new URL('../examples/sample-cluster/src/launcher.ts', import.meta.url));

function runLauncher(args: string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--conditions=@scaleout/source', '--import', 'tsx', LAUNCHER, ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const post = (url: string, headers: Record<string, string> = { 'x-scaleout-admin': '1' }) => fetch(url, { method: 'POST', headers });

/** A request with a Host header of the caller's choosing (fetch always sends the URL's own). */
function statusWithHost(url: string, method: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('sample cluster launcher: options', () => {
  const refused: [string, string[], RegExp][] = [
    ['an unknown strategy', ['--strategy', 'bogus'], /--strategy: got "bogus"; expected one of sticky, cluster, store/],
    ['markup as a strategy', ['--strategy', '<script>alert(1)</script>'], /--strategy: got "<script>/],
    ['an oversized value', ['--strategy', 'x'.repeat(10_000)], /--strategy: got "x{80}…"/],
    ['an unknown transport', ['--transport', 'kafka'], /--transport: got "kafka"; expected one of redis, hazelcast/],
    ['an unknown store', ['--store', 'memcached'], /--store: got "memcached"/],
    ['a port out of range', ['--port', '70000'], /--port: got 70000; expected an integer port/],
    ['a negative port', ['--port', '-1'], /option/],
    ['a port that is not a number', ['--port', '80abc'], /--port: got "80abc"/],
    ['a base port with no room above it', ['--base-port', '65530'], /--base-port: got 65530; expected an integer port from 0 to 65500/],
    ['an unknown algorithm', ['--algorithm', 'random'], /--algorithm: got "random"; expected one of round-robin/],
    ['too many replicas', ['--replicas', '9'], /--replicas: got 9; expected 1, 2 or 3/],
    ['a health interval too short', ['--health-interval', '5'], /--health-interval: got 5; expected milliseconds/],
    ['an empty config path', ['--config', ''], /--config: got ""; expected a file path/],
    ['an unknown flag', ['--strategi', 'sticky'], /Unknown option '--strategi'/],
    ['a positional argument', ['sticky'], /unexpected argument/i],
  ];
  for (const [what, args, message] of refused) {
    it(`refuses ${what}, naming the option, the value and what is allowed`, () => {
      expect(() => parseCommandLine(args)).to.throw(message).with.property('code', 'ERR_SCALEOUT_SAMPLE_BAD_OPTION');
    });
  }

  it('refuses wrong-typed options given in code', () => {
    for (const bad of [{ port: '80' }, { strategy: 1 }, { healthIntervalMs: '1s' }, { replicas: 1.5 }, { config: 42 }] as unknown as SampleClusterOptions[]) {
      expect(() => resolveOptions(bad), JSON.stringify(bad)).to.throw().with.property('code', 'ERR_SCALEOUT_SAMPLE_BAD_OPTION');
    }
  });

  it('fills the defaults: sticky on node memory, proxy on 8080, round robin', () => {
    expect(parseCommandLine([])).to.include({ strategy: 'sticky', transport: 'redis', store: 'redis', replicas: 1, port: 8080, algorithm: 'round-robin', keep: false, healthIntervalMs: 500 });
    expect(parseCommandLine(['--help'])).to.equal(undefined);
  });

  it('exits 1 with the message when an option is refused', function () {
    this.timeout(30_000);
    const r = runLauncher(['--strategy', 'nope']);
    expect(r.status).to.equal(1);
    expect(r.out).to.match(/option --strategy: got "nope"; expected one of sticky, cluster, store \(ERR_SCALEOUT_SAMPLE_BAD_OPTION\)/);
  });

  it('stops with "run: npm run provision" when redis-server is not installed', function () {
    this.timeout(30_000);
    const bin = mkdtempSync(join(tmpdir(), 'scaleout-nobin-'));
    try {
      symlinkSync('/bin/sh', join(bin, 'sh'));
      const r = runLauncher(['--strategy', 'cluster', '--transport', 'redis', '--port', '0'], { ...process.env, PATH: bin });
      expect(r.status).to.equal(1);
      expect(r.out).to.match(/redis-server is not installed; run: npm run provision/);
      expect(r.out).to.include('ERR_SCALEOUT_SAMPLE_BACKEND_MISSING');
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('stops with "run: npm run provision" when the Hazelcast member jar is missing', function () {
    this.timeout(30_000);
    const r = runLauncher(['--strategy', 'store', '--store', 'hazelcast', '--port', '0'], { ...process.env, HAZELCAST_JAR: '/nonexistent/hazelcast.jar' });
    expect(r.status).to.equal(1);
    expect(r.out).to.match(/the Hazelcast member jar \(\/nonexistent\/hazelcast.jar\) is not installed; run: npm run provision/);
  });
});

describe('sample cluster launcher: control endpoints, a config file of the user, Ctrl-C and a crash', function () {
  this.timeout(120_000);
  let cluster: LaunchedCluster | undefined;
  // the status page's admin headers: its token and the header a cross-site form cannot send
  const admin = () => ({ 'x-scaleout-admin': '1', authorization: `Bearer ${cluster!.statusToken}` });
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scaleout-sample-config-'));
    const file = join(dir, 'scaleout.config.json');
    writeFileSync(file, JSON.stringify({ strategy: 'sticky', secret: 'a secret the user wrote', session: { cookieName: 'my.sid' } }));
    cluster = await launchSampleCluster(['--config', file]);
  });
  after(async () => {
    await cluster?.[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the strategy of the user\'s scaleout.config.json', async () => {
    const client = new CookieClient();
    expect((await client.json(`${cluster!.url}/api/count`)).count).to.equal(1);
    expect((await client.json(`${cluster!.url}/api/count`)).count).to.equal(2);
    expect(client.jar.has('my.sid')).to.equal(true);
    const status = (await (await fetch(`${cluster!.dashboardUrl}status.json`)).json()) as { strategy: string; nodes: unknown[] };
    expect(status.strategy).to.equal('sticky');
    expect(status.nodes).to.have.length(3);
  });

  it('refuses bad form input to the demo app and escapes what it shows back', async () => {
    const client = new CookieClient();
    const url = cluster!.url;
    const form = (body: string, type = 'application/x-www-form-urlencoded') => ({ method: 'POST', body, headers: { 'content-type': type } });
    await client.json(`${url}/api/count`);
    for (const body of ['name=%3Cscript%3Ealert(1)%3C%2Fscript%3E', `name=${'x'.repeat(33)}`, 'name=', 'nam=alice', `name=alice&pad=${'y'.repeat(100_000)}`, 'name=%E0%A4%A']) {
      expect((await client.request(`${url}/login`, form(body))).status, body.slice(0, 40)).to.equal(400);
    }
    expect((await client.request(`${url}/login`, form('{"name":"alice"}', 'application/json'))).status).to.equal(400);
    expect((await client.json<{ user: string | null }>(`${url}/api/count`)).user).to.equal(null);
    const note = `<img src=x onerror=alert(1)>${'z'.repeat(1000)}`;
    expect((await client.request(`${url}/note`, form(`note=${encodeURIComponent(note)}`))).status).to.equal(303);
    const page = await (await client.request(`${url}/`)).text();
    expect(page).to.not.include('<img src=x');
    expect(page).to.include('&#60;img src=x onerror=alert(1)&#62;');
    expect(page).to.include(`${'z'.repeat(172)}</b>`).and.not.include('z'.repeat(173));
  });

  it('serves /metrics on every node and on the proxy, and the dashboard draws two of their series live', async () => {
    type Status = { nodes: Array<{ id: string; url: string; history: { savesPerSecond: (number | null)[]; loadMs: (number | null)[] } }> };
    const status = async () => (await (await fetch(`${cluster!.dashboardUrl}status.json`)).json()) as Status;
    const saved = async () => {
      let n = 0;
      for (const node of (await status()).nodes) {
        const res = await fetch(`${node.url}/metrics`);
        expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
        const families = parsePrometheusText(await res.text());
        for (const name of ['scaleout_session_requests_total', 'scaleout_session_load_duration_seconds', 'scaleout_store_up', 'scaleout_store_sessions']) {
          expect(families.some((f) => f.name === name), `${node.id} /metrics has ${name}`).to.equal(true);
        }
        n += sampleValue(families, 'scaleout_session_requests_total', { node: node.id, outcome: 'saved' });
      }
      return n;
    };
    const before = await saved();
    const client = new CookieClient();
    for (let i = 0; i < 6; i++) await client.json(`${cluster!.url}/api/count`);
    expect((await saved()) - before, 'every save counted on the node that made it').to.equal(6);
    // The proxy's metrics sit behind its status token (the sample cluster has one: its kill buttons need it).
    const proxy = parsePrometheusText(await (await fetch(`${cluster!.statusUrl}/metrics`, { headers: { authorization: `Bearer ${cluster!.statusToken}` } })).text());
    expect(proxy.some((f) => f.name === 'scaleout_proxy_requests_total')).to.equal(true);
    // The dashboard samples each node's metrics once a second: saves/s and load time show up
    // (a request per poll, so some fall between two samples however the timers line up).
    await eventually(async () => {
      await client.json(`${cluster!.url}/api/count`);
      const nodes = (await status()).nodes;
      return nodes.some((n) => n.history.savesPerSecond.some((v) => v !== null && v > 0)) && nodes.some((n) => n.history.loadMs.some((v) => v !== null));
    }, 15_000, 'saves/s and load ms in the dashboard history');
  });

  it('serves a fresh session to garbled, forged and oversized cookies', async () => {
    for (const cookie of ['my.sid=garbage; route=%%%', 'my.sid=s%3Aforged.AAAA; route=node-1', `my.sid=${'a'.repeat(3000)}`, 'route=%00%01; my.sid=%FF%FE']) {
      const res = await fetch(`${cluster!.url}/api/count`, { headers: { cookie } });
      expect(res.status, cookie.slice(0, 40)).to.equal(200);
      expect(((await res.json()) as { count: number }).count).to.equal(1);
    }
  });

  it('refuses control requests without the admin header, for unknown nodes and unknown algorithms', async () => {
    const d = cluster!.dashboardUrl;
    expect((await post(`${d}nodes/node-1/kill`, {})).status).to.equal(403);
    expect((await post(`${d}nodes/node-9/kill`)).status).to.equal(404);
    expect((await post(`${d}nodes/..%2Fnode-1/kill`)).status).to.equal(404);
    expect((await post(`${d}nodes/node-1/format-disk`)).status).to.equal(404);
    expect((await post(`${d}algorithm?name=%3Cscript%3E`)).status).to.equal(400);
    expect((await fetch(`${d}nodes/node-1/kill`)).status).to.equal(404);
    expect((await fetch(`${d}status.json`, { method: 'DELETE' })).status).to.equal(405);
    expect((await post(`${cluster!.statusUrl}/targets/node-9/kill`, admin())).status).to.equal(404);
    const nodes = ((await (await fetch(`${d}status.json`)).json()) as { nodes: { running: boolean }[] }).nodes;
    expect(nodes.every((n) => n.running)).to.equal(true);
  });

  it('refuses a rebound name: a foreign Host or Origin gets 403 and kills nothing', async () => {
    const d = cluster!.dashboardUrl;
    const port = new URL(d).port;
    const admin = { 'x-scaleout-admin': '1' };
    expect(await statusWithHost(`${d}nodes/node-1/kill`, 'POST', { ...admin, host: `attacker.example:${port}` })).to.equal(403);
    expect(await statusWithHost(`${d}nodes/node-1/kill`, 'POST', { ...admin, host: `127.attacker.example:${port}` })).to.equal(403);
    expect(await statusWithHost(`${d}nodes/node-1/kill`, 'POST', { ...admin, host: `127.0.0.1:${port}`, origin: 'http://attacker.example' })).to.equal(403);
    expect(await statusWithHost(`${d}status.json`, 'GET', { host: `attacker.example:${port}` })).to.equal(403);
    expect(await statusWithHost(`${d}status.json`, 'GET', { host: `localhost:${port}` })).to.equal(200);
    const page = await fetch(d);
    expect(page.headers.get('content-security-policy')).to.include("frame-ancestors 'none'");
    expect(page.headers.get('referrer-policy')).to.equal('no-referrer');
    const nodes = ((await (await fetch(`${d}status.json`)).json()) as { nodes: { running: boolean }[] }).nodes;
    expect(nodes.every((n) => n.running)).to.equal(true);
  });

  it('switches the algorithm, and kills and restarts a node through the proxy\'s status page buttons', async () => {
    expect((await post(`${cluster!.dashboardUrl}algorithm?name=least-connections`)).status).to.equal(200);
    expect(((await (await fetch(`${cluster!.statusUrl}.json`, { headers: admin() })).json()) as { algorithm: string }).algorithm).to.equal('least-connections');
    const page = await (await fetch(cluster!.statusPageUrl)).text();
    expect(page).to.match(/data-id="node-2" data-action="kill">Kill</).and.match(/data-action="restart">Restart</);
    // the buttons need the token the launcher printed
    expect((await post(`${cluster!.statusUrl}/targets/node-2/kill`)).status).to.equal(401);
    expect((await fetch(`${cluster!.dashboardUrl}status.json`).then((r) => r.json()) as { nodes: { id: string; running: boolean }[] }).nodes.find((n) => n.id === 'node-2')!.running).to.equal(true);
    expect((await post(`${cluster!.statusUrl}/targets/node-2/kill`, admin())).status).to.equal(200);
    await waitForTargetState(cluster!, 'node-2', 'down');
    expect((await post(`${cluster!.statusUrl}/targets/node-2/restart`, admin())).status).to.equal(200);
    await waitForTargetState(cluster!, 'node-2', 'up');
  });

  it('leaves no process behind when the launcher crashes (SIGKILL): the children notice their parent is gone', async () => {
    const pids = cluster!.pids();
    expect(pids.map((p) => p.name)).to.include.members(['node-1', 'node-2', 'node-3', 'profile-a', 'profile-b']);
    await cluster!.stop('SIGKILL');
    await eventually(() => pids.every((p) => !groupAlive(p.pid)), 10_000, `every process group gone: ${JSON.stringify(pids)}`);
  });
});

describe('sample cluster launcher: Ctrl-C', function () {
  this.timeout(120_000);

  it('stops every process on SIGINT, the Redis server included', async () => {
    const cluster = await launchSampleCluster(['--strategy', 'cluster', '--transport', 'redis']);
    try {
      const pids = cluster.pids();
      expect(pids.some((p) => p.name.startsWith('redis-'))).to.equal(true);
      expect(await cluster.stop('SIGINT')).to.equal(0);
      expect(cluster.output()).to.include('stopped.');
      expect(pids.filter((p) => groupAlive(p.pid))).to.deep.equal([]);
    } finally {
      await cluster[Symbol.asyncDispose]();
    }
  });
});
