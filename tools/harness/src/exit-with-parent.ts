// Loaded with `--import` into every process `nodeProcess()` starts (app nodes, the proxy): when
// the parent goes away, even by SIGKILL, its IPC channel closes and the child exits too, so an
// interrupted run never leaves processes behind holding ports. The channel itself must not keep
// the child alive: the proxy CLI ends by letting its event loop drain. A node:cluster worker
// (the proxy's `workers`) inherits this option, but its channel is its primary's, which it
// needs and which already ends the worker when the primary goes.
import cluster from 'node:cluster';

if (!cluster.isWorker) {
  process.channel?.unref();
  process.on('disconnect', () => process.exit(0));
}
