import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError } from '@scaleout/core';
import { createProxy, exportKeepalived, parseProxyConfig, type KeepalivedOptions, type ProxyConfigInput } from '@scaleout/proxy';
import { freePort, keepalivedConfigTest, runCommand } from '@scaleout/harness';
import { startHttp, type RunningServer } from '../../../test/support/index.js';
import { configFile, runCli } from './fixtures/cli.js';

const TOKEN = 'a-status-token-of-enough-length';
const base: ProxyConfigInput = { listen: 8080, host: '0.0.0.0', status: { token: TOKEN }, targets: [{ id: 'node-1', url: 'http://10.0.0.11:3000' }] };
const cfg = (extra: Partial<ProxyConfigInput> = {}) => parseProxyConfig({ ...base, ...extra });
const pair: KeepalivedOptions = { peer: '10.0.0.3', vip: '10.0.0.100/24', priority: 150 };

/** The check keepalived would run: the `script "..."` line split as keepalived splits it. */
function checkCommand(conf: string): { file: string; args: string[] } {
  const m = /^\s*script "([^"]+)"$/m.exec(conf);
  expect(m, 'a script line').to.not.equal(null);
  const [file, ...args] = m![1]!.split(' ');
  return { file: file!, args };
}

/** An interface of this machine that VRRP can use: keepalived -t refuses loopback and unknown names. */
function vrrpInterface(): string {
  const name = Object.entries(networkInterfaces()).find(([, addrs]) => addrs?.some((a) => a.family === 'IPv4' && !a.internal))?.[0];
  if (!name) throw new Error('keepalived -t needs a non-loopback interface with an IPv4 address on this machine');
  return name;
}

async function run(file: string, args: string[]): Promise<number | null> {
  return (await runCommand(file, args)).code;
}

describe('keepalived export', function () {
  this.timeout(30_000);
  let dir: string;
  before(async () => void (dir = await mkdtemp(join(tmpdir(), 'scaleout-keepalived-'))));
  after(async () => rm(dir, { recursive: true, force: true }));

  it('one VRRP instance by unicast to the peer, tracking a check of the local health endpoint', () => {
    const text = exportKeepalived(cfg(), { ...pair, interface: 'veth1', advertInt: 2, routerId: 7 });
    expect(text).to.match(/vrrp_instance scaleout_proxy \{\n  state BACKUP\n  interface veth1\n  virtual_router_id 7\n  priority 150\n  advert_int 2\n/);
    expect(text).to.include('  unicast_peer {\n    10.0.0.3\n  }');
    expect(text).to.include('  virtual_ipaddress {\n    10.0.0.100/24 dev veth1\n  }');
    expect(text).to.include('  track_script {\n    chk_scaleout_proxy\n  }');
    expect(text).to.match(/vrrp_script chk_scaleout_proxy \{[\s\S]*?\n  interval 1\n  timeout 2\n  fall 2\n  rise 2\n/);
    expect(text).to.include(`script "${process.execPath} -e fetch(\`http://127.0.0.1:8080/__scaleout/health\`,`);
    expect(text).to.include('enable_script_security').and.not.include('unicast_src_ip');
    expect(text).not.to.include('nopreempt');
    expect(text).not.to.include(TOKEN);
  });

  it('--nopreempt, a source address, the health path and a bound address carry over', () => {
    const text = exportKeepalived(cfg({ host: '10.0.0.2', health: { path: '/lb' } }), { ...pair, nopreempt: true, sourceIp: '10.0.0.2' });
    expect(text).to.match(/\n  nopreempt\n/);
    expect(text).to.include('  unicast_src_ip 10.0.0.2\n');
    expect(text).to.include('fetch(`http://10.0.0.2:8080/lb`');
  });

  const REFUSED: [string, Partial<ProxyConfigInput>, Partial<KeepalivedOptions>, string][] = [
    ['tcp mode (no health endpoint)', { mode: 'tcp', targets: [{ id: 'a', url: 'tcp://10.0.0.11:5432' }] }, {}, 'health.enabled'],
    ['the health endpoint turned off', { health: { enabled: false } }, {}, 'health.enabled'],
    ['a proxy on a port picked at start', { listen: 0 }, {}, 'listen'],
    ['a proxy bound to the VIP itself', { host: '10.0.0.100' }, {}, 'host'],
    ['a VIP that is no address', {}, { vip: '10.0.0.300' }, 'vip'],
    ['a VIP with a bad prefix', {}, { vip: '10.0.0.100/33' }, 'vip'],
    ['a peer of another family', {}, { peer: 'fd00::3' }, 'peer'],
    ['the VIP as peer', {}, { peer: '10.0.0.100' }, 'peer'],
    ['priority 255 (the address owner, which VRRP reserves)', {}, { priority: 255 }, 'priority'],
    ['priority 0', {}, { priority: 0 }, 'priority'],
    ['an interface that would start a comment', {}, { interface: 'eth0#x' }, 'interface'],
    ['an interface with a space', {}, { interface: 'eth0 nopreempt' }, 'interface'],
    ['a router id above 255', {}, { routerId: 256 }, 'routerId'],
  ];
  for (const [what, config, options, field] of REFUSED) {
    it(`refuses ${what}, naming ${field}`, () => {
      const err = (() => {
        try {
          exportKeepalived(cfg(config), { ...pair, ...options });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).field).to.equal(field);
    });
  }

  it('keepalived -t (the real daemon) accepts the exported config, and refuses it once broken', async () => {
    for (const nopreempt of [false, true]) {
      const file = join(dir, `keepalived-${nopreempt}.conf`);
      const text = exportKeepalived(cfg(), { ...pair, nopreempt, interface: vrrpInterface(), sourceIp: '10.0.0.2' });
      await writeFile(file, text);
      const ok = await keepalivedConfigTest(file);
      expect(ok, ok.output).to.deep.include({ code: 0, signal: null });
    }
    // The same file with one value out of range: the config test does find errors.
    const broken = join(dir, 'broken.conf');
    await writeFile(broken, exportKeepalived(cfg(), { ...pair, interface: vrrpInterface() }).replace('priority 150', 'priority 999'));
    const bad = await keepalivedConfigTest(broken);
    expect(bad.code).to.not.equal(0);
    expect(bad.output).to.include('999');
  });

  describe('the check command, run as keepalived runs it', () => {
    let node: RunningServer;
    before(async () => void (node = await startHttp((_req, res) => void res.end('ok'))));
    after(async () => node.close());

    it('exits 0 while the proxy serves, 1 once it drains, 1 once it is gone', async () => {
      const port = await freePort();
      const proxy = createProxy({ listen: port, targets: [{ id: 'n', url: node.url }], healthCheck: { enabled: false } });
      await proxy.listen();
      try {
        const { file, args } = checkCommand(exportKeepalived(parseProxyConfig({ listen: port, targets: [{ id: 'n', url: node.url }] }), pair));
        expect(args[0]).to.equal('-e');
        expect(args).to.have.length(2);
        expect(await run(file, args)).to.equal(0);
        proxy.drain();
        expect(await run(file, args)).to.equal(1);
        proxy.undrain();
        expect(await run(file, args)).to.equal(0);
        await proxy.close();
        expect(await run(file, args)).to.equal(1);
      } finally {
        await proxy.close();
      }
    });
  });

  it('CLI: export keepalived prints the config; a missing --vip exits 78 naming it', async () => {
    const file = await configFile(base);
    try {
      const ok = await runCli(['export', 'keepalived', '--config', file.path, '--peer', '10.0.0.3', '--vip', '10.0.0.100', '--priority', '100', '--interface', 'ens3', '--nopreempt', '--advert-int', '1']);
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stdout).to.include('priority 100').and.include('10.0.0.100 dev ens3').and.include('nopreempt');
      const missing = await runCli(['export', 'keepalived', '--config', file.path, '--peer', '10.0.0.3', '--priority', '100']);
      expect(missing.code).to.equal(78);
      expect(missing.stderr).to.include('--vip');
      const badNumber = await runCli(['export', 'keepalived', '--config', file.path, '--peer', '10.0.0.3', '--vip', '10.0.0.100', '--priority', 'high']);
      expect(badNumber.code).to.equal(78);
      expect(badNumber.stderr).to.include('--priority');
    } finally {
      await file.remove();
    }
  });
});
