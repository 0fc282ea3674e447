import { once } from 'node:events';
import { expect } from 'chai';
import { createProxy } from '@scaleout/proxy';
import { startHttp } from '../../../test/support/index.js';

describe('Proxy lifecycle', () => {
  it('listens once, closes twice safely, refuses to listen after close, and disposes with await using', async () => {
    const node = await startHttp((_req, res) => res.end('ok'));
    try {
      const proxy = createProxy({ listen: 0, targets: [{ id: 'a', url: node.url }], healthCheck: { interval: '50ms', timeout: '40ms' } });
      const [a, b] = await Promise.all([proxy.listen(), proxy.listen()]);
      expect(a.port).to.be.above(0).and.equal(b.port);
      expect(await (await fetch(`http://127.0.0.1:${a.port}/`)).text()).to.equal('ok');
      await Promise.all([proxy.close(), proxy.close()]);
      await proxy.close();
      await expect(proxy.listen()).to.be.rejectedWith(/closed/);
      await expect(fetch(`http://127.0.0.1:${a.port}/`)).to.be.rejectedWith(/fetch failed/);
      let port = 0;
      {
        await using scoped = createProxy({ listen: 0, targets: [{ id: 'a', url: node.url }], healthCheck: { enabled: false } });
        port = (await scoped.listen()).port;
      }
      await expect(fetch(`http://127.0.0.1:${port}/`)).to.be.rejectedWith(/fetch failed/);
    } finally {
      await node.close();
    }
  });

  it('emits down and up for a target as its health checks fail and pass', async () => {
    let healthy = true;
    const node = await startHttp((req, res) => {
      res.statusCode = req.url === '/healthz' && !healthy ? 503 : 200;
      res.end();
    });
    const proxy = createProxy({ listen: 0, targets: [{ id: 'a', url: node.url }], healthCheck: { interval: '30ms', timeout: '25ms', rise: 2, fall: 2 } });
    try {
      await proxy.listen();
      healthy = false;
      expect(await once(proxy, 'down')).to.deep.equal(['a']);
      expect((await fetch(`http://127.0.0.1:${proxy.port}/`)).status).to.equal(503);
      healthy = true;
      expect(await once(proxy, 'up')).to.deep.equal(['a']);
      expect((await fetch(`http://127.0.0.1:${proxy.port}/`)).status).to.equal(200);
    } finally {
      await proxy.close();
      await node.close();
    }
  });
});
