import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { nodeProcess, type NodeProcess } from '@scaleout/harness';
import { createProxy, type Proxy } from '@scaleout/proxy';

// TCP mode has active checks too: a TCP connect per interval. A node whose process is killed is
// marked down by them alone, with no client traffic to trip the passive checks.

const ECHO = fileURLToPath(new URL('./fixtures/tcp-echo.ts', import.meta.url));

/** A TCP echo server in its own process, so that it can be SIGKILLed. */
async function echoProcess(): Promise<NodeProcess> {
  const proc = nodeProcess({ name: 'tcp echo', script: ECHO, ready: /READY (\d+)/ });
  await proc.start();
  return proc;
}

describe('proxy L4 mode: active connect checks', function () {
  this.timeout(20_000);
  const procs: NodeProcess[] = [];
  let proxy: Proxy;
  after(async () => {
    await proxy?.close();
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  });

  it('marks a SIGKILLed TCP node down within the fall time, with no traffic, and the other stays up', async () => {
    const nodes = [await echoProcess(), await echoProcess()];
    procs.push(...nodes);
    const interval = 200;
    const fall = 2;
    proxy = createProxy({
      listen: 0,
      mode: 'tcp',
      targets: nodes.map((n, i) => ({ id: `t${i}`, url: `tcp://127.0.0.1:${n.port}` })),
      healthCheck: { interval: `${interval}ms`, timeout: `${interval}ms`, fall, rise: 1 },
    });
    await proxy.listen();
    const down = once(proxy, 'down');
    await nodes[0]!.kill('SIGKILL');
    const killedAt = performance.now();
    let deadline: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (deadline = setTimeout(() => reject(new Error('not marked down within 5 s')), 5000)));
    const [id] = await Promise.race([down, late]);
    clearTimeout(deadline);
    const took = performance.now() - killedAt;
    expect(id).to.equal('t0');
    // fall probes, one interval apart, plus one interval for the round in progress (and slack for a busy machine)
    expect(took).to.be.below(interval * (fall + 1) + 1000);
    expect(proxy.stats().targets.map((t) => [t.id, t.state, t.requests])).to.deep.equal([
      ['t0', 'down', 0],
      ['t1', 'up', 0],
    ]);
  });
});
