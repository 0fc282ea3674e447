import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { expect } from 'chai';
import { WebSocket, WebSocketServer } from 'ws';
import { createProxy, type Proxy, type ProxyConfigInput } from '@scaleout/proxy';
import { freePort } from '@scaleout/harness';
import { startHttp, type RunningServer } from './support/index.js';

// One retry rule for HTTP, WebSocket and TCP: another node is tried only when nothing reached
// the failed one, and retries across all requests stay within the budget (here 20% of the
// requests, no floor), so a dead node cannot double the load on the live one.

describe('proxy retry policy: one rule and one budget for HTTP, WebSocket and TCP', function () {
  this.timeout(30_000);
  let node: RunningServer;
  let echo: Server;
  let deadPort: number;
  const proxies: Proxy[] = [];

  before(async () => {
    node = await startHttp((_req, res) => res.end('ok'));
    new WebSocketServer({ server: node.server }).on('connection', (ws) => ws.close());
    echo = createServer((s) => s.on('data', (d) => s.end(d)).on('error', () => {}));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    deadPort = await freePort();
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await node.close();
    echo.close();
  });

  const start = async (extra: Partial<ProxyConfigInput>, live: string, dead: string) => {
    const p = createProxy({
      listen: 0,
      algorithm: 'round-robin',
      targets: [{ id: 'dead', url: dead }, { id: 'live', url: live }],
      healthCheck: { enabled: false },
      passive: { consecutiveErrors: 1000 },
      retries: 1,
      retryBudget: { ratio: 0.2, minPerSecond: 0 },
      ...extra,
    });
    proxies.push(p);
    await p.listen();
    return p;
  };

  /** Failed tries on the dead node, and how many of them another node took over. */
  const retried = (p: Proxy, failedAnswers: number) => {
    const dead = p.stats().targets.find((t) => t.id === 'dead')!;
    return { deadTries: dead.failures, retried: dead.failures - failedAnswers };
  };

  it('HTTP: retries connect failures on the live node until the budget is spent, then answers 502', async () => {
    const p = await start({}, node.url, `http://127.0.0.1:${deadPort}`);
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) statuses.push((await fetch(`http://127.0.0.1:${p.port}/x`)).status);
    const failed = statuses.filter((s) => s === 502).length;
    expect(statuses.filter((s) => s !== 200 && s !== 502)).to.deep.equal([]);
    const { deadTries, retried: r } = retried(p, failed);
    expect(deadTries).to.be.at.least(30);
    expect(r, `${r} of ${deadTries} retried`).to.be.within(1, 20);
    expect(failed).to.be.above(0);
  });

  it('WebSocket: the same rule and the same kind of budget for upgrades', async () => {
    const p = await start({}, node.url, `http://127.0.0.1:${deadPort}`);
    const outcomes: number[] = [];
    for (let i = 0; i < 40; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${p.port}/chat`);
      ws.on('error', () => {});
      outcomes.push(await Promise.race([once(ws, 'open').then(() => 101), once(ws, 'unexpected-response').then(([, res]) => (res as { statusCode: number }).statusCode)]));
      ws.terminate();
    }
    const failed = outcomes.filter((s) => s === 502).length;
    expect(outcomes.filter((s) => s !== 101 && s !== 502)).to.deep.equal([]);
    const { retried: r } = retried(p, failed);
    expect(r).to.be.within(1, 8);
    expect(failed).to.be.above(0);
  });

  it('TCP: the same rule for connections', async () => {
    const p = await start({ mode: 'tcp' }, `tcp://127.0.0.1:${(echo.address() as AddressInfo).port}`, `tcp://127.0.0.1:${deadPort}`);
    let echoed = 0;
    for (let i = 0; i < 40; i++) {
      const s = connect({ port: p.port!, host: '127.0.0.1' });
      s.on('error', () => {});
      s.write('hi');
      const [got] = await Promise.race([once(s, 'data'), once(s, 'close').then(() => [undefined])]);
      if (got) echoed++;
      s.destroy();
    }
    const failed = 40 - echoed;
    const { retried: r } = retried(p, failed);
    expect(r).to.be.within(1, 8);
    expect(failed).to.be.above(0);
  });
});
