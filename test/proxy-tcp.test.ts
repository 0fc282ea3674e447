import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { expect } from 'chai';
import { createProxy, type Proxy, type ProxyConfigInput } from '@scaleout/proxy';
import { eventually } from '@scaleout/harness';

interface Echo {
  server: Server;
  port: number;
  close(): Promise<void>;
}

async function startEcho(id: string): Promise<Echo> {
  const server = createServer((s) => s.on('data', (d) => s.write(`${id}:${d}`)).on('error', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Opens a connection (optionally from a given local address), sends `msg`, returns the answer. */
function roundTrip(port: number, msg: string, localAddress?: string, keepOpen = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress });
    s.once('error', reject);
    s.once('connect', () => s.write(msg));
    s.once('data', (d) => {
      if (!keepOpen) s.end();
      resolve(d.toString());
    });
  });
}

describe('proxy L4 mode: a TCP proxy with round robin, least connections and source-IP hash', function () {
  this.timeout(30_000);
  let echoes: Echo[] = [];
  const open: Proxy[] = [];

  before(async () => {
    echoes = await Promise.all(['a', 'b', 'c'].map(startEcho));
  });
  after(async () => {
    await Promise.all(open.map((p) => p.close()));
    await Promise.all(echoes.map((e) => e.close()));
  });

  async function tcpProxy(extra: Partial<ProxyConfigInput>, ports = echoes.map((e) => e.port)): Promise<Proxy> {
    const proxy = createProxy({ listen: 0, mode: 'tcp', targets: ports.map((p, i) => ({ id: `t${i}`, url: `tcp://127.0.0.1:${p}` })), ...extra });
    open.push(proxy);
    await proxy.listen();
    return proxy;
  }

  it('passes a client half-close (FIN) on and relays what the node answers after it', async () => {
    // A node that answers only once the request is over (its reading side ended), then closes.
    const summing = createServer((s) => {
      let got = '';
      s.on('data', (d) => (got += d)).on('end', () => s.end(`read ${got.length} bytes`)).on('error', () => {});
    });
    await new Promise<void>((r) => summing.listen(0, '127.0.0.1', r));
    try {
      const proxy = await tcpProxy({}, [(summing.address() as AddressInfo).port]);
      const answer = await new Promise<string>((resolve, reject) => {
        const s = connect({ port: proxy.port!, host: '127.0.0.1', allowHalfOpen: true });
        let got = '';
        s.once('error', reject);
        s.on('data', (d) => (got += d)).once('end', () => resolve(got));
        s.once('connect', () => s.end('x'.repeat(1000)));
      });
      expect(answer).to.equal('read 1000 bytes');
      // and the tunnel is over once the node closed its side too
      await eventually(() => proxy.stats().connections === 0 && proxy.stats().targets[0]!.inFlight === 0, 5000, 'the tunnel closed');
    } finally {
      await new Promise<void>((r) => summing.close(() => r()));
    }
  });

  it('shows each target as the tcp:// address it was configured with, never as an http: URL', async () => {
    const proxy = await tcpProxy({});
    expect(proxy.stats().targets.map((t) => [t.url, t.address])).to.deep.equal(echoes.map((e) => [`tcp://127.0.0.1:${e.port}`, `127.0.0.1:${e.port}`]));
    expect(await roundTrip(proxy.port!, 'hi')).to.match(/^[abc]:hi$/);
  });

  it('round robin: echoes through the proxy, each connection to the next node', async () => {
    const proxy = await tcpProxy({ algorithm: 'round-robin' });
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) answers.push(await roundTrip(proxy.port!, `m${i}`));
    answers.forEach((a, i) => expect(a).to.match(new RegExp(`^[abc]:m${i}$`)));
    const ids = answers.map((a) => a[0]);
    expect(new Set(ids).size).to.equal(3);
    expect(ids.slice(3)).to.deep.equal(ids.slice(0, 3));
  });

  it('least connections: a new connection avoids the nodes holding open ones', async () => {
    const proxy = await tcpProxy({ algorithm: 'least-connections', timeouts: { shutdown: '100ms' } });
    const first = await roundTrip(proxy.port!, 'x', undefined, true);
    const second = await roundTrip(proxy.port!, 'y', undefined, true);
    const third = await roundTrip(proxy.port!, 'z', undefined, true);
    expect(new Set([first[0], second[0], third[0]]).size).to.equal(3);
  });

  it('source-IP hash: one client address always reaches one node; several addresses spread', async () => {
    const proxy = await tcpProxy({ algorithm: 'ip-hash' });
    const byAddr = new Map<string, Set<string>>();
    for (let a = 1; a <= 20; a++) {
      const local = `127.0.0.${a}`;
      for (let i = 0; i < 3; i++) {
        const answer = await roundTrip(proxy.port!, 'h', local);
        if (!byAddr.has(local)) byAddr.set(local, new Set());
        byAddr.get(local)!.add(answer[0]!);
      }
    }
    for (const [addr, nodes] of byAddr) expect(nodes.size, addr).to.equal(1);
    expect(new Set([...byAddr.values()].map((s) => [...s][0])).size).to.be.greaterThan(1);
  });

  it('retries a refused connect on another node, with the client none the wiser', async () => {
    const proxy = await tcpProxy({ algorithm: 'round-robin', retries: 1 }, [1, echoes[0]!.port]);
    for (let i = 0; i < 4; i++) expect(await roundTrip(proxy.port!, `r${i}`)).to.equal(`a:r${i}`);
  });

  it('refuses cookie stickiness and HTTP-only algorithms in tcp mode, naming the field', () => {
    const base = { mode: 'tcp' as const, targets: [{ id: 'a', url: 'tcp://127.0.0.1:9' }] };
    expect(() => createProxy({ ...base, secret: 's', sticky: { mode: 'insert' } })).to.throw(/sticky\.mode.*L4/).with.property('field', 'sticky.mode');
    expect(() => createProxy({ ...base, algorithm: 'least-response-time' })).to.throw(/algorithm/).with.property('code', 'ERR_SCALEOUT_CONFIG');
  });
});
