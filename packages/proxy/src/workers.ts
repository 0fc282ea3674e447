import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { debuglog } from 'node:util';

const debug = debuglog('scaleout:proxy-workers');

/** How many processes `workers` asks for: `"auto"` is one per core. */
export function workerCount(workers: number | 'auto'): number {
  return workers === 'auto' ? availableParallelism() : workers;
}

/**
 * The primary of a multi-process proxy (node:cluster): forks `n` workers that run the same
 * command and share the listening socket, passes SIGTERM/SIGINT on to them, and resolves once
 * all have stopped: 0 when every one stopped cleanly, 1 when one failed. A worker that dies on
 * its own takes the others down with it (exit 1), rather than being restarted in a loop that a
 * bad port or a full table would never end. Route tags are stateless, so stickiness needs
 * nothing shared; each worker runs its own health checks, and their views converge within the
 * rise/fall time.
 */
export function runPrimary(n: number, err: NodeJS.WritableStream): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    let failed = false;
    let alive = n;
    const stopAll = () => {
      if (stopping) return;
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    };
    cluster.on('exit', (worker, code, signal) => {
      debug('worker %d exited (%s)', worker.process.pid, code ?? signal);
      if (code !== 0) failed = true;
      if (!stopping) {
        err.write(`scaleout-proxy: worker ${worker.process.pid} exited (${code ?? signal}); stopping the others\n`);
        stopAll();
      }
      if (--alive === 0) resolve(failed ? 1 : 0);
    });
    process.on('SIGTERM', stopAll);
    process.on('SIGINT', stopAll);
    for (let i = 0; i < n; i++) cluster.fork();
  });
}

/** True in a process that must fork workers rather than serve. */
export function isPrimaryOf(n: number): boolean {
  return n > 1 && cluster.isPrimary;
}

/** In a worker: closes the channel to the primary, so that the process can exit once idle. */
export function leaveCluster(): void {
  if (cluster.isWorker) cluster.worker?.disconnect();
}
