import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { expect } from 'chai';
import { createProxy, type Proxy } from '@scaleout/proxy';

// TCP mode has active checks too: a TCP connect per interval. A node whose process is killed is
// marked down by them alone, with no client traffic to trip the passive checks.

/** A TCP echo server in its own process, so that it can be SIGKILLed. */
async function echoProcess(): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, ['-e', "const s = require('net').createServer((c) => c.pipe(c)).listen(0, '127.0.0.1', () => console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
  return { proc, port: Number(line.toString().trim()) };
}

describe('proxy L4 mode: active connect checks', function () {
  this.timeout(20_000);
  const procs: ChildProcess[] = [];
  let proxy: Proxy;
  after(async () => {
    await proxy?.close();
    for (const p of procs) p.kill('SIGKILL');
  });

  it('marks a SIGKILLed TCP node down within the fall time, with no traffic, and the other stays up', async () => {
    const nodes = [await echoProcess(), await echoProcess()];
    procs.push(...nodes.map((n) => n.proc));
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
    const exited = once(nodes[0]!.proc, 'exit');
    nodes[0]!.proc.kill('SIGKILL');
    await exited;
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
