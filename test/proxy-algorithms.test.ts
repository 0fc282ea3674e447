import { expect } from 'chai';
import { createProxy, type ProxyConfigInput } from '@scaleout/proxy';
import { startHttp, type RunningServer } from './support/index.js';

interface Case {
  algorithm: NonNullable<ProxyConfigInput['algorithm']>;
  weights?: number[];
  /** ms each node waits before answering */
  delays?: number[];
  requests: number;
  concurrency: number;
  expectedRatios?: number[];
  tolerance?: number;
  /** the slow node's share must stay below this */
  slowShareBelow?: number;
}

const CASES: Case[] = [
  { algorithm: 'round-robin', requests: 600, concurrency: 1, expectedRatios: [1 / 3, 1 / 3, 1 / 3], tolerance: 0.02 },
  { algorithm: 'weighted-round-robin', weights: [1, 2, 3], requests: 600, concurrency: 1, expectedRatios: [1 / 6, 2 / 6, 3 / 6], tolerance: 0.03 },
  { algorithm: 'least-connections', delays: [200, 0, 0], requests: 300, concurrency: 12, slowShareBelow: 0.15 },
  { algorithm: 'least-response-time', delays: [200, 0, 0], requests: 300, concurrency: 12, slowShareBelow: 0.1 },
];

async function startNodes(delays: number[]): Promise<RunningServer[]> {
  return Promise.all(
    delays.map((ms, i) =>
      startHttp((req, res) => {
        const answer = () => res.end(`node-${i + 1}`);
        if (ms && req.url !== '/healthz') setTimeout(answer, ms);
        else answer();
      }),
    ),
  );
}

async function drive(port: number, requests: number, concurrency: number, headers: (i: number) => Record<string, string> = () => ({})): Promise<string[]> {
  const served: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const i = next++;
        const res = await fetch(`http://127.0.0.1:${port}/`, { headers: headers(i) });
        expect(res.status).to.equal(200);
        served[i] = await res.text();
      }
    }),
  );
  return served;
}

describe('proxy algorithms: unpinned requests are spread by the configured algorithm', function () {
  this.timeout(60_000);

  for (const c of CASES) {
    it(`${c.algorithm}: ${c.expectedRatios ? `ratios ${c.expectedRatios.map((r) => r.toFixed(2)).join(' ')}` : `a 200 ms node gets under ${c.slowShareBelow! * 100}%`}`, async () => {
      const nodes = await startNodes(c.delays ?? [0, 0, 0]);
      const proxy = createProxy({
        listen: 0,
        algorithm: c.algorithm,
        targets: nodes.map((n, i) => ({ id: `node-${i + 1}`, url: n.url, weight: c.weights?.[i] ?? 1 })),
        healthCheck: { enabled: false },
      });
      try {
        await proxy.listen();
        const served = await drive(proxy.port!, c.requests, c.concurrency);
        const share = nodes.map((_, i) => served.filter((s) => s === `node-${i + 1}`).length / c.requests);
        if (c.expectedRatios) {
          c.expectedRatios.forEach((r, i) => expect(share[i], `share of node-${i + 1}: ${share.join(' ')}`).to.be.closeTo(r, c.tolerance!));
          // order, not only totals: round robin never serves one node twice in a row
          if (c.algorithm === 'round-robin') expect(served.some((s, i) => i > 0 && s === served[i - 1])).to.equal(false);
        } else {
          expect(share[0], `share of the slow node: ${share.join(' ')}`).to.be.below(c.slowShareBelow!);
        }
        expect(proxy.stats().algorithm).to.equal(c.algorithm);
      } finally {
        await proxy.close();
        await Promise.all(nodes.map((n) => n.close()));
      }
    });
  }

  it('ip-hash: each client address (from a trusted X-Forwarded-For) always reaches the same node, and the addresses spread', async () => {
    const nodes = await startNodes([0, 0, 0]);
    const proxy = createProxy({ listen: 0, algorithm: 'ip-hash', trustProxy: ['127.0.0.1'], targets: nodes.map((n, i) => ({ id: `node-${i + 1}`, url: n.url })), healthCheck: { enabled: false } });
    try {
      await proxy.listen();
      const ips = Array.from({ length: 60 }, (_, i) => `10.0.${i}.${(i * 7) % 250}`);
      const served = await drive(proxy.port!, 300, 6, (i) => ({ 'x-forwarded-for': ips[i % ips.length]! }));
      const byIp = new Map<string, Set<string>>();
      served.forEach((node, i) => {
        const ip = ips[i % ips.length]!;
        if (!byIp.has(ip)) byIp.set(ip, new Set());
        byIp.get(ip)!.add(node);
      });
      for (const [ip, set] of byIp) expect(set.size, ip).to.equal(1);
      expect(new Set(served).size).to.equal(3);
    } finally {
      await proxy.close();
      await Promise.all(nodes.map((n) => n.close()));
    }
  });

  it('ip-hash ignores X-Forwarded-For from an untrusted peer', async () => {
    const nodes = await startNodes([0, 0, 0]);
    const proxy = createProxy({ listen: 0, algorithm: 'ip-hash', targets: nodes.map((n, i) => ({ id: `node-${i + 1}`, url: n.url })), healthCheck: { enabled: false } });
    try {
      await proxy.listen();
      const served = await drive(proxy.port!, 60, 3, (i) => ({ 'x-forwarded-for': `10.1.${i}.1` }));
      expect(new Set(served).size).to.equal(1);
    } finally {
      await proxy.close();
      await Promise.all(nodes.map((n) => n.close()));
    }
  });
});
