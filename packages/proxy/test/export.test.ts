import { expect } from 'chai';
import { exportHaproxy, exportNginx, parseProxyConfig } from '@scaleout/proxy';
import { routeTag } from '@scaleout/core';
import { writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { main } from '#cli';
import { runCli, configFile } from './fixtures/cli.js';

const targets = [
  { id: 'node-1', url: 'http://127.0.0.1:3001', weight: 1 },
  { id: 'node-2', url: 'http://127.0.0.1:3002', weight: 3 },
];
const cfg = (extra: object = {}) => parseProxyConfig({ listen: 8080, secret: 'shh-secret-value', targets, ...extra });

describe('HAProxy and nginx export', () => {
  it('HAProxy learn: passive cookie on the route cookie, the same tags per server, redispatch and checks', () => {
    const text = exportHaproxy(cfg({ healthCheck: { interval: '1s', timeout: '500ms', rise: 2, fall: 2 } }));
    expect(text).to.include('    cookie route indirect nocache\n');
    expect(text).to.include(`server node-1 127.0.0.1:3001 cookie ${routeTag('node-1', 'shh-secret-value')} maxconn 512 check`);
    expect(text).to.include('option redispatch').and.to.include('option httpchk GET /healthz').and.to.include('default-server inter 1000ms rise 2 fall 2');
    expect(text).to.include('bind 127.0.0.1:8080\n    maxconn 4096\n');
    expect(text).not.to.include('shh-secret-value');
  });

  it('HAProxy insert: insert indirect nocache httponly with SameSite; weights under weighted round robin', () => {
    const text = exportHaproxy(cfg({ algorithm: 'weighted-round-robin', sticky: { mode: 'insert', cookieName: 'lb', secure: true } }));
    expect(text).to.include('cookie lb insert indirect nocache httponly secure attr "SameSite=Lax"');
    expect(text).to.include(`server node-2 127.0.0.1:3002 weight 3 cookie ${routeTag('node-2', 'shh-secret-value')} maxconn 512 check`);
  });

  const BALANCE: [string, string, string][] = [
    ['round-robin', 'balance roundrobin', ''],
    ['ip-hash', 'balance source', 'hash $remote_addr consistent;'],
    ['least-connections', 'balance leastconn', 'least_conn;'],
    ['least-response-time', 'balance leastconn', 'least_conn;'],
  ];
  for (const [algorithm, haproxy, nginx] of BALANCE) {
    it(`maps ${algorithm} to "${haproxy}" and "${nginx || 'round robin'}"`, () => {
      expect(exportHaproxy(cfg({ algorithm }))).to.include(haproxy);
      if (nginx) expect(exportNginx(cfg({ algorithm }))).to.include(nginx);
    });
  }

  it('nginx: a map from the route cookie to per-node upstreams with the others as backup', () => {
    const text = exportNginx(cfg());
    expect(text).to.include('map $cookie_route $scaleout_upstream {');
    expect(text).to.include(`"${routeTag('node-2', 'shh-secret-value')}" scaleout_node_1;`);
    expect(text).to.match(/upstream scaleout_node_0 \{\n\s+server 127\.0\.0\.1:3001 [^\n]*;\n\s+server 127\.0\.0\.1:3002 [^\n]* backup;/);
    expect(text).to.include('proxy_pass http://$scaleout_upstream;');
  });

  it('tcp mode: HAProxy mode tcp without cookies, nginx stream block', () => {
    const c = parseProxyConfig({ listen: 9000, mode: 'tcp', algorithm: 'ip-hash', targets: [{ id: 'a', url: 'tcp://127.0.0.1:7000' }] });
    const h = exportHaproxy(c);
    expect(h).to.include('mode tcp').and.to.include('balance source').and.not.to.include('cookie');
    expect(exportNginx(c)).to.include('stream {').and.to.include('hash $remote_addr consistent;');
  });

  it('refuses what the target balancer cannot express', () => {
    expect(() => exportHaproxy(cfg({ listen: 0 }))).to.throw(/listen/).with.property('field', 'listen');
    expect(() => exportNginx(cfg({ sticky: { cookieName: 'my-route' } }))).to.throw(/cookieName/).with.property('field', 'sticky.cookieName');
  });
});

describe('scaleout-proxy CLI', function () {
  this.timeout(30_000);
  it('prints an export and exits 0', async () => {
    const file = await configFile({ listen: 8080, secret: 'k', targets });
    try {
      const h = await runCli(['export', 'haproxy', '--config', file.path]);
      expect(h.code).to.equal(0);
      expect(h.stdout).to.include('backend nodes');
      const n = await runCli(['export', 'nginx', '--config', file.path]);
      expect(n.code).to.equal(0);
      expect(n.stdout).to.include('upstream scaleout_all');
    } finally {
      await file.remove();
    }
  });

  it('exits 2 with usage on bad arguments, 78 naming the field on a bad config, 78 on a missing file', async () => {
    const run = async (args: string[]) => {
      const out = new PassThrough();
      const err = new PassThrough();
      let stderr = '';
      err.on('data', (c: Buffer) => (stderr += c));
      const code = await main(args, out, err);
      return { code, stderr };
    };
    expect((await run([])).code).to.equal(2);
    expect((await run(['export', 'apache', '--config', 'x.json'])).code).to.equal(2);
    expect((await run(['--nope'])).code).to.equal(2);
    const bad = await configFile({ targets: [{ id: 'a', url: 'ftp://x' }] });
    try {
      const r = await run(['--config', bad.path]);
      expect(r.code).to.equal(78);
      expect(r.stderr).to.include('targets.0.url').and.to.include('ERR_SCALEOUT_CONFIG');
    } finally {
      await bad.remove();
    }
    expect((await run(['--config', '/nonexistent/proxy.json'])).code).to.equal(78);
    const garbled = await configFile({});
    try {
      await writeFile(garbled.path, '{"status": {"token": unquoted-secret-value}}');
      const r = await run(['--config', garbled.path]);
      expect(r.stderr).to.match(/is not valid JSON/).and.not.to.include('unquoted-secret-value');
      const notObject = await configFile('{');
      expect((await run(['--config', notObject.path])).stderr).to.match(/\(root\).*expected an object/);
      await notObject.remove();
    } finally {
      await garbled.remove();
    }
  });
});
