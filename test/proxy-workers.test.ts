import { request } from 'node:http';
import { expect } from 'chai';
import { startCli, type RunningCli } from '../packages/proxy/test/fixtures/cli.js';
import { eventually } from '@scaleout/harness';
import { startHttp, type RunningServer } from './support/index.js';

// `workers: 2`: the CLI forks two proxy processes sharing the listening socket (node:cluster),
// and stops them both on SIGTERM.

/** One request on its own connection, so that each may land on another worker. */
function fresh(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('proxy workers (CLI, node:cluster)', function () {
  this.timeout(40_000);
  let node: RunningServer;
  let cli: RunningCli;

  before(async () => {
    node = await startHttp((_req, res) => res.end('ok'));
    cli = await startCli({ listen: 0, targets: [{ id: 'node-1', url: node.url }], healthCheck: { enabled: false }, workers: 2 });
  });
  after(async () => {
    await cli.stop('SIGKILL');
    await node.close();
  });

  it('serves from two worker processes on one port, and SIGTERM stops both and exits 0', async () => {
    const pids = new Set<number>();
    await eventually(async () => {
      pids.add((JSON.parse((await fresh(cli.port, '/__scaleout/status.json')).body) as { pid: number }).pid);
      return pids.size === 2;
    }, 15_000, 'answers from two workers');
    expect([...pids]).not.to.include(cli.pid);
    for (let i = 0; i < 10; i++) expect(await fresh(cli.port, '/')).to.deep.equal({ status: 200, body: 'ok' });
    expect(await cli.stop('SIGTERM')).to.equal(0);
    for (const pid of pids) expect(alive(pid), `worker ${pid}`).to.equal(false);
  });
});
