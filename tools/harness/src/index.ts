// Starting real servers and processes on free ports, for the integration tests, the sample
// cluster, the fault matrix and the benchmarks. README.md lists what each module offers.
export * from './errors.js';
export * from './exit-hook.js';
export * from './ports.js';
export * from './server-process.js';
export * from './process-group.js';
export * from './node-process.js';
export * from './run.js';
export * from './ready-line.js';
export * from './redis.js';
export * from './redis-sentinel.js';
export * from './redis-cluster.js';
export * from './hazelcast.js';
export * from './haproxy.js';
export * from './nginx.js';
export * from './keepalived.js';
export * from './netns.js';
export * from './lb-pair.js';
