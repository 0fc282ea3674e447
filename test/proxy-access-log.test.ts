import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startCli, type RunningCli } from '../packages/proxy/test/fixtures/cli.js';
import { startHttp, type RunningServer } from './support/index.js';

// The CLI's access log: JSON lines written by pino, exactly one per request however it ended,
// with nothing secret in it.

const SECRET_BITS = ['sid=s%3Asession-secret-value', 'route=route-secret-tag', 'bearer-secret-token', 'query-secret-token'];

describe('proxy access log (CLI --access-log)', function () {
  this.timeout(30_000);
  let node: RunningServer;
  let cli: RunningCli;
  let dir: string;

  before(async () => {
    node = await startHttp((req, res) => {
      if (req.url === '/missing') return void res.writeHead(404).end('nope');
      req.resume();
      req.on('end', () => res.end('hello'));
    });
    dir = await mkdtemp(join(tmpdir(), 'scaleout-access-'));
    cli = await startCli({ listen: 0, targets: [{ id: 'node-1', url: node.url }], healthCheck: { enabled: false } }, ['--access-log', join(dir, 'logs', 'access.log')]);
  });
  after(async () => {
    await cli.stop('SIGKILL');
    await node.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes exactly one JSON line per request, with no cookie values or tokens', async () => {
    const base = `http://127.0.0.1:${cli.port}`;
    const secretHeaders = { cookie: `${SECRET_BITS[0]}; ${SECRET_BITS[1]}`, authorization: `Bearer ${SECRET_BITS[2]}` };
    const sent: [string, number][] = [];
    const fetched = async (path: string, init: RequestInit = {}) => sent.push([path, (await (await fetch(`${base}${path}`, init)).arrayBuffer(), 0)]);
    await fetched('/one', { headers: secretHeaders });
    await fetched(`/two?token=${SECRET_BITS[3]}&x=1`, { headers: secretHeaders });
    await fetched('/upload', { method: 'POST', body: 'x'.repeat(5000) });
    await fetched('/missing');
    await fetched(`/__scaleout/status.json?token=${SECRET_BITS[3]}`);
    // a malformed request answered by the proxy itself
    await new Promise<void>((resolve) => {
      const s = connect({ port: cli.port, host: '127.0.0.1' }, () => s.write('GET /dup HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'));
      s.on('data', () => s.destroy());
      s.on('close', () => resolve());
    });
    expect(await cli.stop('SIGTERM')).to.equal(0); // the log is flushed on a graceful stop
    const text = await readFile(join(dir, 'logs', 'access.log'), 'utf8');
    const lines = text.trim().split('\n');
    expect(lines, text).to.have.length(6);
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.map((e) => [e.method, e.path, e.status, e.target])).to.deep.equal([
      ['GET', '/one', 200, 'node-1'],
      ['GET', '/two', 200, 'node-1'],
      ['POST', '/upload', 200, 'node-1'],
      ['GET', '/missing', 404, 'node-1'],
      ['GET', '/__scaleout/status.json', 200, null],
      ['GET', '/dup', 400, null],
    ]);
    for (const e of entries) {
      expect(Object.keys(e).sort()).to.deep.equal(['bytes', 'client', 'durationMs', 'level', 'method', 'path', 'status', 'target', 'time']);
      expect(e.client).to.equal('127.0.0.1');
      expect(Number.isNaN(Date.parse(e.time as string))).to.equal(false);
      expect(e.durationMs).to.be.a('number').at.least(0);
      expect(e.bytes).to.be.a('number').above(50);
    }
    for (const secret of [...SECRET_BITS, 'session-secret-value', 'route-secret-tag']) expect(text).not.to.include(secret);
  });
});
