import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { eventually, nodeProcess, pidAlive, type NodeProcess } from '@scaleout/harness';

const ECHO = fileURLToPath(new URL('./fixtures/tcp-echo.ts', import.meta.url));
const PARENT = fileURLToPath(new URL('./fixtures/harness-parent.ts', import.meta.url));

describe('@scaleout/harness nodeProcess: children of the test run', function () {
  this.timeout(30_000);
  const started: NodeProcess[] = [];
  after(async () => Promise.all(started.map((p) => p.kill())));

  it('takes the port from the ready line and serves on it; kill() ends it and keeps the exit', async () => {
    const echo = nodeProcess({ name: 'tcp echo', script: ECHO, ready: /READY (\d+)/ });
    started.push(echo);
    expect(echo.port).to.equal(0);
    await echo.start();
    expect(echo.port).to.be.above(0);
    expect(echo.url).to.equal(`http://127.0.0.1:${echo.port}`);
    const socket = connect(echo.port, '127.0.0.1');
    socket.end('ping');
    const [data] = (await once(socket, 'data')) as [Buffer];
    expect(data.toString()).to.equal('ping');
    await echo.stop();
    expect(echo.alive).to.equal(false);
    expect(echo.exitCode, echo.log()).to.equal(0);
  });

  it('a child does not outlive a parent killed with SIGKILL', async () => {
    const parent = nodeProcess({ name: 'parent', script: PARENT, port: 0, ready: /CHILD \d+/ });
    started.push(parent);
    await parent.start();
    const childPid = Number(/CHILD (\d+)/.exec(parent.log())![1]);
    expect(pidAlive(childPid), 'the child runs').to.equal(true);
    await parent.kill('SIGKILL');
    await eventually(() => !pidAlive(childPid), 10_000, `child ${childPid} gone after its parent`);
  });
});
