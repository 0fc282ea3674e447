/**
 * The floor of the proxy benchmark: the least an L7 proxy built on `node:http` and undici does,
 * with nothing else. It forwards each request to the next of its targets in turn (one undici
 * `Pool` each, the dispatch handler API `@scaleout/proxy` uses) and copies the answer back: no
 * header rules, no stickiness, no health, no retries, no timeouts, no limits, no metrics. What
 * `@scaleout/proxy` costs above it is what its features cost; what this costs above HAProxy is
 * the price of Node.js's HTTP stack, which no proxy on it can go under.
 *
 * Plain JavaScript, run by `node` itself, as the built proxy is:
 * `node bench/support/floor-proxy.mjs <port> <workers> <target-url>...` (workers > 1: `node:cluster`).
 */
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [port, workers, ...targets] = process.argv.slice(2);
// A normal exit on Ctrl-C, so that `node --cpu-prof` writes its profile.
process.on('SIGINT', () => process.exit(0));

if (Number(workers) > 1 && cluster.isPrimary) {
  for (let i = 0; i < Number(workers); i++) cluster.fork();
} else {
  const pools = targets.map((t) => new Pool(t, { connections: 128 }));
  let next = 0;
  createServer((req, res) => {
    const pool = pools[next++ % pools.length];
    const headers = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toLowerCase();
      if (name !== 'connection' && name !== 'keep-alive' && name !== 'host') headers.push(raw[i], raw[i + 1]);
    }
    const body = req.method === 'GET' || req.method === 'HEAD' ? null : req;
    pool.dispatch(
      { path: req.url, method: req.method, headers, body },
      {
        onRequestStart() {},
        onResponseStart(controller, status) {
          const out = [];
          const h = controller.rawHeaders;
          for (let i = 0; i < h.length; i += 2) {
            const name = h[i].toString('latin1').toLowerCase();
            if (name !== 'connection' && name !== 'keep-alive') out.push(h[i].toString('latin1'), h[i + 1].toString('latin1'));
          }
          res.writeHead(status, out);
        },
        onResponseData(_controller, chunk) {
          res.write(chunk);
        },
        onResponseEnd() {
          res.end();
        },
        onResponseError(_controller, err) {
          if (!res.headersSent) res.writeHead(502);
          res.end(String(err));
        },
      },
    );
  }).listen(Number(port), '127.0.0.1');
}
