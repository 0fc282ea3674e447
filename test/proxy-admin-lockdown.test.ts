import { request } from 'node:http';
import { expect } from 'chai';
import { ConfigError } from '@scaleout/core';
import { createProxy, type Proxy } from '@scaleout/proxy';
import { startHttp, type RunningServer } from './support/index.js';

// The admin endpoints without a token rely on the proxy listening on loopback only. A page that
// rebinds its own name to 127.0.0.1 reaches loopback too, so the request must also name this
// proxy: Host (and a POST's Origin) is checked against the bound address or status.allowedHosts.

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** One request with exactly the Host (and Origin) given, which fetch() would not let us set. */
function call(port: number, method: string, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    });
    r.on('error', reject);
    r.end();
  });
}

describe('proxy admin lockdown: Host and Origin checks, no framing, no referrer, loopback on the bound address', function () {
  this.timeout(20_000);
  let node: RunningServer;
  let proxy: Proxy;
  const S = '/__scaleout/status';

  before(async () => {
    node = await startHttp((_req, res) => res.end('ok'));
    proxy = createProxy({ listen: 0, targets: [{ id: 'node-1', url: node.url }], healthCheck: { enabled: false }, status: { allowedHosts: ['admin.internal', 'ops.internal:9000'] } });
    await proxy.listen();
  });
  after(async () => {
    await proxy.close();
    await node.close();
  });

  const admin = { 'x-scaleout-admin': '1' };
  const drained = () => proxy.stats().targets[0]!.draining;

  it('answers admin POSTs and status reads with a foreign Host or Origin with 403, and changes nothing', async () => {
    const self = `127.0.0.1:${proxy.port}`;
    const foreign: [string, string, Record<string, string>][] = [
      ['POST', `${S}/targets/node-1/drain`, { host: 'evil.example', ...admin }],
      ['POST', `${S}/targets/node-1/drain`, { host: `evil.example:${proxy.port}`, ...admin }],
      ['POST', `${S}/targets/node-1/drain`, { host: self, origin: 'http://evil.example', ...admin }],
      ['POST', `${S}/targets/node-1/drain`, { host: self, origin: 'null', ...admin }],
      ['POST', `${S}/algorithm?name=ip-hash`, { host: 'ops.internal:9001', ...admin }],
      ['GET', `${S}.json`, { host: 'evil.example' }],
      ['GET', S, { host: '127.0.0.2' }],
    ];
    for (const [method, path, headers] of foreign) expect((await call(proxy.port!, method, path, headers)).status, JSON.stringify(headers)).to.equal(403);
    expect(drained()).to.equal(false);
    expect(proxy.stats().algorithm).to.equal('round-robin');
  });

  it('serves the bound address, localhost and the allowed hosts, with a matching Origin or none', async () => {
    const ok: [string, Record<string, string>][] = [
      [`${S}/targets/node-1/drain`, { host: `127.0.0.1:${proxy.port}`, origin: `http://127.0.0.1:${proxy.port}`, ...admin }],
      [`${S}/targets/node-1/enable`, { host: `LOCALHOST:${proxy.port}`, ...admin }],
      [`${S}/targets/node-1/drain`, { host: 'admin.internal', origin: 'https://admin.internal', ...admin }],
      [`${S}/targets/node-1/enable`, { host: 'ops.internal:9000', ...admin }],
    ];
    for (const [path, headers] of ok) expect((await call(proxy.port!, 'POST', path, headers)).status, JSON.stringify(headers)).to.equal(200);
    expect(drained()).to.equal(false);
    // the rest of the traffic is not concerned: any Host reaches the nodes
    expect((await call(proxy.port!, 'GET', '/', { host: 'evil.example' })).status).to.equal(200);
  });

  it("sends frame-ancestors 'none' and Referrer-Policy: no-referrer on every status response", async () => {
    const self = { host: `127.0.0.1:${proxy.port}` };
    const answers = await Promise.all([
      call(proxy.port!, 'GET', S, self),
      call(proxy.port!, 'GET', `${S}.json`, self),
      call(proxy.port!, 'GET', `${S}/nothing`, self),
      call(proxy.port!, 'DELETE', S, self),
      call(proxy.port!, 'POST', `${S}/targets/node-1/enable`, self),
      call(proxy.port!, 'POST', `${S}/targets/node-1/enable`, { ...self, ...admin }),
      call(proxy.port!, 'GET', S, { host: 'evil.example' }),
    ]);
    expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 404, 405, 403, 200, 403]);
    for (const a of answers) {
      expect(a.headers['content-security-policy'], `${a.status}`).to.match(/(^|; )frame-ancestors 'none'(;|$)/);
      expect(a.headers['referrer-policy'], `${a.status}`).to.equal('no-referrer');
    }
  });

  it('refuses a token-less status page on a name that merely starts with 127.', () => {
    for (const host of ['127.attacker.example', '127.0.0.1.nip.io', '::ffff:10.0.0.1']) {
      expect(() => createProxy({ listen: 0, host, targets: [{ id: 'n', url: node.url }] }), host).to.throw(ConfigError, /status\.token/);
    }
    // with a token, or with the status page off, any address is fine
    expect(() => createProxy({ listen: 0, host: '127.attacker.example', targets: [{ id: 'n', url: node.url }], status: { token: 'a-token-of-sixteen-chars' } })).not.to.throw();
  });
});
