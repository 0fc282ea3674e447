import { randomBytes } from 'node:crypto';
import { InProcessTransport, ReplicatedStore } from '@scaleout/cluster';
import type { ExperimentResult } from './table.js';

const NODES = [2, 3, 5];
const TTL = 30 * 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

// A session as the demo writes it: the cookie, a counter, a user and a short note.
function session(i: number): Record<string, unknown> {
  return { cookie: { originalMaxAge: TTL, httpOnly: true, sameSite: 'lax', path: '/' }, count: 1 + (i % 50), user: `user-${i}`, note: randomBytes(48).toString('base64') };
}

interface Cost {
  nodes: number;
  sessions: number;
  heapPerNodeMb: number;
  framesReceivedPerNode: number;
  kbReceivedPerNode: number;
  kbOnWire: number;
  msToConverge: number;
}

async function measure(nodes: number, sessions: number, run: number): Promise<Cost> {
  const bus = `cluster-cost-${process.pid}-${run}`;
  const before = heapUsed();
  const stores: ReplicatedStore[] = [];
  try {
    for (let i = 0; i < nodes; i++) {
      const store = new ReplicatedStore({ nodeId: `n${i}`, secret: 'cluster-cost', transport: new InProcessTransport({ bus }), discoveryWait: 50, antiEntropyInterval: 600_000 });
      await store.start();
      stores.push(store);
    }
    const started = performance.now();
    // Writes arrive at every node in turn, as a balancer spreads new sessions.
    for (let i = 0; i < sessions; i++) await stores[i % nodes]!.set(`s${i}`, session(i), TTL);
    for (;;) {
      const sizes = await Promise.all(stores.map((s) => s.size()));
      if (sizes.every((n) => n === sessions)) break;
      if (performance.now() - started > 120_000) throw new Error(`cluster of ${nodes} did not converge on ${sessions} sessions: ${sizes.join(', ')}`);
      await sleep(10);
    }
    const msToConverge = performance.now() - started;
    const heap = heapUsed() - before;
    const stats = stores.map((s) => s.stats());
    const received = stats.reduce((a, s) => a + s.bytesReceived, 0);
    return {
      nodes,
      sessions,
      heapPerNodeMb: heap / nodes / 1048576,
      framesReceivedPerNode: Math.round(stats.reduce((a, s) => a + s.framesReceived, 0) / nodes),
      kbReceivedPerNode: received / nodes / 1024,
      kbOnWire: received / 1024,
      msToConverge,
    };
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
}

/**
 * The cost of `cluster`: nodes of 2, 3 and 5 replicated stores (in one process, over the
 * in-process transport, so that only the replication itself is measured), with up to `size`
 * sessions written across them; memory and messages per node once every node holds every session.
 */
export async function clusterCost(size: number): Promise<ExperimentResult> {
  const grid = [...new Set([Math.max(1, Math.round(size / 10)), Math.max(1, Math.round(size / 2)), size])];
  const rows: Cost[] = [];
  let run = 0;
  for (const n of NODES) for (const s of grid) rows.push(await measure(n, s, run++));
  return {
    name: 'cluster-cost',
    title: 'cluster: memory and messages per node as nodes × sessions grow',
    command: `npm run experiment -- cluster-cost --size ${size}`,
    columns: ['nodes', 'sessions', 'heap per node (MB)', 'frames received per node', 'KB received per node', 'KB on the wire (all nodes)', 'ms until all hold all'],
    rows: rows.map((r) => [r.nodes, r.sessions, Math.round(r.heapPerNodeMb * 10) / 10, r.framesReceivedPerNode, Math.round(r.kbReceivedPerNode), Math.round(r.kbOnWire), Math.round(r.msToConverge)]),
    notes: [
      'Every node holds every session, so memory per node grows with the sessions and not with the nodes: adding nodes adds no capacity for sessions. What each node receives grows with the sessions the others write ((nodes − 1) / nodes of them), and the traffic of the whole cluster with nodes × sessions. Heap figures are approximate (one process holds every node; run with `node --expose-gc` for steadier ones).',
    ],
  };
}
