import type { Load, VirtualUser } from './load.js';
import type { Topology } from './topology.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the final read of every VU's session found. */
export interface FinalCheck {
  /** VUs whose session is missing on a node that must hold it. */
  sessionsLost: number;
  /** VUs whose counter reads below their last acknowledged value on such a node. */
  updatesLost: number;
  /** One line per VU that failed, after the settle time. */
  details: string[];
}

interface Peek {
  count: number | null;
}

/** The counter `node` holds for this VU, or `'unavailable'` when it cannot say now (503, refused, slow). */
async function peek(nodeUrl: string, vu: VirtualUser): Promise<number | null | 'unavailable'> {
  const cookie = [...vu.client.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  try {
    const res = await fetch(`${nodeUrl}/peek`, { headers: { cookie }, signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) {
      await res.arrayBuffer();
      return 'unavailable';
    }
    return ((await res.json()) as Peek).count;
  } catch {
    return 'unavailable';
  }
}

/**
 * After the load stopped, reads every VU's counter straight from the nodes that must hold it:
 * under `sticky` the node that last served it; under `cluster` every running node (each holds
 * a copy, so each would serve it after a failover); under `store` every running node (they
 * read the same store). Each read must show at least the VU's last acknowledged value. Reads
 * are repeated until `settleMs` has passed, so that asynchronous replication and anti-entropy
 * count as what they are: a delay, not a loss.
 */
export async function checkFinalCounters(topology: Topology, load: Load, settleMs: number): Promise<FinalCheck> {
  const deadline = Date.now() + settleMs;
  const pending = new Set(load.vus.filter((vu) => vu.lastAck !== undefined));
  const last = new Map<VirtualUser, string>();
  for (;;) {
    await Promise.all(
      [...pending].map(async (vu) => {
        const nodes = topology.nodes.filter((n) => n.alive && (topology.strategy !== 'sticky' || n.name === vu.lastNode));
        const seen = await Promise.all(nodes.map(async (n) => [n.name, await peek(n.url, vu)] as const));
        const behind = seen.filter(([, v]) => v === null || v === 'unavailable' || v < vu.lastAck!);
        if (behind.length === 0) pending.delete(vu);
        else last.set(vu, behind.map(([n, v]) => `${n} ${v === null ? 'has no session' : v === 'unavailable' ? 'did not answer' : `reads ${v}`}`).join(', '));
      }),
    );
    if (pending.size === 0 || Date.now() > deadline) break;
    await sleep(250);
  }
  const result: FinalCheck = { sessionsLost: 0, updatesLost: 0, details: [] };
  for (const vu of pending) {
    const why = last.get(vu)!;
    // A node that never answered has lost nothing we can show; a missing or older value has.
    if (why.includes('has no session')) result.sessionsLost++;
    else if (why.includes('reads')) result.updatesLost++;
    result.details.push(`vu ${vu.id}: acknowledged ${vu.lastAck}; after ${settleMs} ms ${why}`);
  }
  return result;
}
