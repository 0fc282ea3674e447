import { refuse } from '../errors.js';
import { Algorithm, type AlgorithmName, type AlgorithmOptions } from './algorithm.js';
import { IpHash } from './ip-hash.js';
import { LeastConnections } from './least-connections.js';
import { LeastResponseTime } from './least-response-time.js';
import { RoundRobin } from './round-robin.js';
import { WeightedRoundRobin } from './weighted-round-robin.js';

export { Algorithm, type AlgorithmName, type AlgorithmOptions, type PickContext } from './algorithm.js';
export { RoundRobin } from './round-robin.js';
export { WeightedRoundRobin } from './weighted-round-robin.js';
export { IpHash, buildMaglevTable, maglevTableSize } from './ip-hash.js';
export { LeastConnections } from './least-connections.js';
export { LeastResponseTime, cost as leastResponseTimeCost, NO_HISTORY_PENALTY } from './least-response-time.js';

const CLASSES: Record<AlgorithmName, new (options?: AlgorithmOptions) => Algorithm> = {
  'round-robin': RoundRobin,
  'weighted-round-robin': WeightedRoundRobin,
  'ip-hash': IpHash,
  'least-connections': LeastConnections,
  'least-response-time': LeastResponseTime,
};

/** Every algorithm name `createAlgorithm()` accepts. */
export const ALGORITHMS: readonly AlgorithmName[] = Object.freeze(Object.keys(CLASSES) as AlgorithmName[]);

/** A fresh algorithm instance (each keeps its own state: a round-robin cursor, a hash table). */
export function createAlgorithm(name: AlgorithmName, options?: AlgorithmOptions, field = 'algorithm'): Algorithm {
  if (typeof name !== 'string' || !Object.hasOwn(CLASSES, name)) refuse(field, name, `use one of ${ALGORITHMS.join(', ')}`);
  return new CLASSES[name](options);
}
