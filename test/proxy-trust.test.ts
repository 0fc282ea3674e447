import { request } from 'node:http';
import { expect } from 'chai';
import { ConfigError } from '@scaleout/core';
import { createProxy, type Proxy } from '@scaleout/proxy';
import { startHttp, type RunningServer } from './support/index.js';

// What a node is told about the client: a peer the proxy does not trust cannot name the
// client's address or scheme in Forwarded or X-Real-IP; a trusted one (by CIDR range, through
// proxy-addr) can, and every hop is appended.

type Seen = Record<string, string | undefined>;

function through(port: number, headers: Record<string, string>): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path: '/', headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve(JSON.parse(body) as Seen));
    });
    r.on('error', reject);
    r.end();
  });
}

describe('proxy trust: Forwarded, X-Real-IP and X-Forwarded-* by proxy-addr ranges', function () {
  this.timeout(20_000);
  let node: RunningServer;
  const proxies: Proxy[] = [];
  const start = async (trustProxy: boolean | string[]) => {
    const p = createProxy({ listen: 0, targets: [{ id: 'n', url: node.url }], healthCheck: { enabled: false }, trustProxy });
    proxies.push(p);
    await p.listen();
    return p.port!;
  };

  before(async () => {
    node = await startHttp((req, res) => {
      const h = req.headers;
      res.end(JSON.stringify({ forwarded: h.forwarded, realIp: h['x-real-ip'], xff: h['x-forwarded-for'], proto: h['x-forwarded-proto'], host: h['x-forwarded-host'] }));
    });
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await node.close();
  });

  const claims = { host: 'app.example', forwarded: 'for=203.0.113.9;proto=https', 'x-real-ip': '203.0.113.9', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' };

  it('replaces what an untrusted peer claims in Forwarded and X-Real-IP, and appends to X-Forwarded-For', async () => {
    const seen = await through(await start(false), claims);
    expect(seen).to.deep.equal({ forwarded: 'for=127.0.0.1;proto=http;host="app.example"', realIp: '127.0.0.1', xff: '203.0.113.9, 127.0.0.1', proto: 'http', host: 'app.example' });
  });

  it('keeps what a peer inside a trusted CIDR range says, and appends this hop to Forwarded', async () => {
    const seen = await through(await start(['10.0.0.0/8', '127.0.0.0/8']), claims);
    expect(seen).to.deep.equal({ forwarded: 'for=203.0.113.9;proto=https, for=127.0.0.1;proto=http;host="app.example"', realIp: '203.0.113.9', xff: '203.0.113.9, 127.0.0.1', proto: 'https', host: 'evil.example' });
  });

  it('treats a peer outside the trusted ranges as untrusted', async () => {
    const seen = await through(await start(['10.0.0.0/8', 'uniquelocal']), claims);
    expect(seen.realIp).to.equal('127.0.0.1');
    expect(seen.forwarded).to.equal('for=127.0.0.1;proto=http;host="app.example"');
  });

  it('accepts addresses, CIDR ranges and proxy-addr names in trustProxy, and refuses anything else', () => {
    expect(() => createProxy({ listen: 0, targets: [{ id: 'n', url: node.url }], trustProxy: ['192.0.2.1', '10.0.0.0/8', 'fd00::/8', 'loopback', 'linklocal', 'uniquelocal'] })).not.to.throw();
    for (const bad of ['10.0.0.0/33', 'example.com', '']) {
      expect(() => createProxy({ listen: 0, targets: [{ id: 'n', url: node.url }], trustProxy: [bad] }), bad).to.throw(ConfigError, /trustProxy\.0/);
    }
  });
});
