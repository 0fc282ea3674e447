// The lost update behind the broken SIGSTOP rows of docs/reliability.md, made deterministic:
// a request reads its session on node B and takes a while; its client gives up (as the proxy
// does after its server timeout, answering 504) and goes on on node A, where two increments are
// acknowledged; then the abandoned request saves what it computed from its stale read, and the
// acknowledged increments are gone. A slow handler is enough; a node frozen (SIGSTOP) in the middle
// of its work, woken once its client left, is the case the matrix hit.
//
//   node --conditions=@scaleout/source --import tsx faults/abandoned-request.ts
//
// Prints what each strategy and layer did and exits 1 while an acknowledged update is lost. With
// `lock: true` the Koa layer keeps the update (it holds the lock until its save is done); the
// Express layer loses it too, since it frees the lock when the client goes away.
import { randomBytes } from 'node:crypto';
import { createStrategy, type ScaleoutConfigInput, type Strategy } from '@scaleout/core';
import { fileURLToPath } from 'node:url';
import { buildApp, type Framework } from '../test/support/apps.js';
import { startHttp } from '../test/support/http.js';
import { type NodeProcess, startOnFreePort, startRedis, tempDir, writeFile } from '@scaleout/harness';

const APP_NODE = fileURLToPath(new URL('./app-node.ts', import.meta.url));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Freezes and wakes node B, when it is a process of its own. */
interface Freezer {
  pause(): void;
  resume(): void;
}

/** Runs the sequence against nodes A and B; resolves with the counter values seen, in order. */
async function sequence(a: { url: string }, b: { url: string }, freezer?: Freezer): Promise<number[]> {
  let cookie = '';
  const count = async (url: string): Promise<number> => {
    const res = await fetch(`${url}/count`, { headers: cookie ? { cookie } : {}, signal: AbortSignal.timeout(5000) });
    const set = res.headers.getSetCookie().find((c) => c.startsWith('sid='));
    if (set) cookie = set.split(';')[0]!;
    if (res.status !== 200) throw new Error(`GET /count: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { count: number }).count;
  };
  const seen = [await count(a.url)];
  await sleep(100); // replication (cluster) reaches B
  // Reads the session, then works (1 s, or 300 ms and frozen 100 ms in); the client gives up after 200 ms.
  const abandoned = fetch(`${b.url}/count?delay=${freezer ? 300 : 1000}`, { headers: { cookie }, signal: AbortSignal.timeout(200) }).catch(() => undefined);
  if (freezer) {
    await sleep(100);
    freezer.pause();
  }
  await abandoned;
  seen.push(await count(a.url), await count(a.url));
  freezer?.resume();
  await sleep(1500); // the abandoned request saves, and (cluster) its write replicates to A
  seen.push(await count(a.url));
  return seen;
}

async function run(name: string, framework: Framework, config: (nodeId: string) => ScaleoutConfigInput, layerOptions: Record<string, unknown> = {}): Promise<boolean> {
  const strategies: Strategy[] = [await createStrategy(config('a')), await createStrategy(config('b'))];
  const servers = await Promise.all(strategies.map((s) => startHttp(buildApp(framework, s, layerOptions))));
  try {
    return report(name, await sequence(servers[0]!, servers[1]!));
  } finally {
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(strategies.map((s) => s.close()));
  }
}

function report(name: string, seen: number[]): boolean {
  const lost = seen[3]! <= seen[2]!;
  console.log(`${name}: acknowledged ${seen.join(', ')} — ${lost ? `LOST: ${seen[2]} was acknowledged, the next increment answered ${seen[3]}` : 'no acknowledged update lost'}`);
  return lost;
}

/** The same with A and B as app node processes, B frozen with SIGSTOP while it works. */
async function runFrozen(name: string, framework: Framework, config: ScaleoutConfigInput): Promise<boolean> {
  const tmp = tempDir('abandoned');
  const file = writeFile(tmp.dir, 'scaleout.config.json', JSON.stringify(config));
  const nodes: NodeProcess[] = [];
  try {
    for (const id of ['a', 'b']) {
      const env = { ...process.env, SCALEOUT_CONFIG: file, SCALEOUT_NODE_ID: id, FAULTS_FRAMEWORK: framework };
      nodes.push(await startOnFreePort((port) => ({ name: id, script: APP_NODE, env: { ...env, PORT: String(port) }, port, ready: /^READY \d+$/m })));
    }
    return report(name, await sequence(nodes[0]!, nodes[1]!, nodes[1]!));
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    tmp.remove();
  }
}

const redis = await startRedis({ replicas: 1 });
const secret = randomBytes(16).toString('hex');
const bus = `abandoned-${randomBytes(4).toString('hex')}`;
const store = (nodeId: string): ScaleoutConfigInput => ({ strategy: 'store', nodeId, secret, store: { type: 'redis', url: redis.url, waitReplicas: 1 } });
const cluster = (nodeId: string): ScaleoutConfigInput => ({ strategy: 'cluster', nodeId, secret, cluster: { transport: { type: 'in-process', bus } } });
let lost = 0;
try {
  if (await run('store on Redis (waitReplicas 1), Express', 'express', store)) lost++;
  if (await run('store on Redis (waitReplicas 1), Koa', 'koa', store)) lost++;
  if (await run('cluster (in-process transport), Express', 'express', cluster)) lost++;
  if (await run('store on Redis (waitReplicas 1), Express, lock: true', 'express', store, { lock: true })) lost++;
  if (await run('store on Redis (waitReplicas 1), Koa, lock: true', 'koa', store, { lock: true })) lost++;
  const { nodeId: _, ...shared } = store('x') as ScaleoutConfigInput & { nodeId: string };
  if (await runFrozen('store on Redis (waitReplicas 1), Express, node frozen while it works', 'express', shared)) lost++;
  if (await runFrozen('store on Redis (waitReplicas 1), Koa, node frozen while it works', 'koa', shared)) lost++;
} finally {
  await redis.stop();
}
process.exit(lost > 0 ? 1 : 0);
