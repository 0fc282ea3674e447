import { algorithms } from './algorithms.js';
import { clusterCost } from './cluster-cost.js';
import { lbFailover } from './lb-failover.js';
import { nodeDown } from './node-down.js';
import { storeFailover } from './store-failover.js';
import type { ExperimentResult } from './table.js';

/** One experiment: what it shows, its full size, and how to run it at a given size. */
export interface Experiment {
  describe: string;
  /** The size docs/experiments.md was measured at. */
  defaultSize: number;
  /** What `size` counts. */
  sizeMeans: string;
  run(size: number): Promise<ExperimentResult>;
}

/** Every experiment, by the name `npm run experiment -- <name>` takes. */
export const EXPERIMENTS: Record<string, Experiment> = {
  'sticky-node-down': { describe: 'sessions lost when a node dies under `sticky`: the node\'s share', defaultSize: 300, sizeMeans: 'clients', run: (n) => nodeDown('sticky', n) },
  'cluster-node-down': { describe: 'sessions lost when a node dies under `cluster` (over Redis): none', defaultSize: 300, sizeMeans: 'clients', run: (n) => nodeDown('cluster', n) },
  'store-failover': { describe: 'the Redis master dies under `store` (Sentinel, waitReplicas 1): none lost, the outage window measured', defaultSize: 300, sizeMeans: 'clients', run: storeFailover },
  'cluster-cost': { describe: 'memory and messages per node of `cluster` as nodes × sessions grow', defaultSize: 20_000, sizeMeans: 'most sessions', run: clusterCost },
  algorithms: { describe: 'load spread and tail latency per algorithm with one slow node', defaultSize: 3000, sizeMeans: 'requests per algorithm', run: algorithms },
  'lb-failover': { describe: 'the proxy dies: one proxy (SPOF), two with VRRP (keepalived), VRRP plus client retries; needs root', defaultSize: 12, sizeMeans: 'users', run: lbFailover },
};
