// Loaded with `--import` into every process the fault matrix starts (app nodes, the proxy): when
// the runner goes away, even by SIGKILL, its IPC channel closes and the child exits too, so an
// interrupted run never leaves processes behind holding ports.
process.on('disconnect', () => process.exit(0));
