import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startHttp, type RunningServer } from '../../../test/support/index.js';

describe('close()', () => {
  let server: RunningServer;
  before(async () => {
    server = await startHttp((req, res) => {
      res.statusCode = req.url?.endsWith('/fail') ? 503 : 200;
      res.end(req.url);
    });
    server.server.keepAliveTimeout = 60_000; // a keep-alive socket left open must not hold the client
  });
  after(async () => server.close());

  it('stops every timer and socket: a process that used a balancer exits on its own', async function () {
    this.timeout(20_000);
    const child = spawn(process.execPath, ['--conditions=@scaleout/source', '--import', 'tsx', fileURLToPath(new URL('./fixtures/close-child.ts', import.meta.url)), server.url], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    const started = Date.now();
    let closedAt = 0;
    child.stdout.on('data', () => {
      if (!closedAt && out.includes('closed')) closedAt = Date.now();
    });
    const code = await new Promise<number | null>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('exit', (c) => {
        clearTimeout(kill);
        resolve(c);
      });
    });
    expect(err).to.equal('');
    expect(code, `the child did not exit on its own (started ${Date.now() - started} ms ago)`).to.equal(0);
    expect(out).to.match(/^status 200 (\/b)?\/hello\n/);
    expect(out).to.include('closed');
    expect(Date.now() - closedAt, 'exit after close').to.be.below(3000);
  });
});
