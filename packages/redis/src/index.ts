/**
 * `@scaleout/redis`: a session store on Redis (standalone, Sentinel or Cluster) and a pub/sub transport.
 * @module
 */
export {};
