import { createStrategy } from '@scaleout/core';
import { describeConcurrency } from './support/concurrency.js';
import { type HazelcastCluster, type RedisClusterSet, type RedisSentinelSet, type RedisServer, startHazelcast, startRedis, startRedisCluster, startRedisSentinel } from '@scaleout/harness';

// The lost-update guarantees on every backend that holds sessions outside node memory, through
// Express and Koa: per-key saves keep concurrent writes to different keys, and lock: true
// serializes increments (Redis SET NX PX with a token, a Hazelcast map lock). The cluster
// strategy has no cluster-wide lock and refuses lock: true.
describe('concurrent requests on real backends', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let sentinel: RedisSentinelSet;
  let redisCluster: RedisClusterSet;
  let hazelcast: HazelcastCluster;
  let bus = 0;

  before(async function () {
    [redis, sentinel, redisCluster, hazelcast] = await Promise.all([
      startRedis(),
      // Slow to declare the master down: no failover from a loaded machine's pause mid-test.
      startRedisSentinel({ replicas: 1, sentinels: 1, downAfterMs: 10_000 }),
      startRedisCluster({ masters: 3, replicasPerMaster: 0 }),
      startHazelcast({ members: 1, clusterName: 'concurrency' }),
    ]);
  });
  after(async function () {
    await Promise.all([redis?.stop(), sentinel?.stop(), redisCluster?.stop(), hazelcast?.stop()]);
  });

  describeConcurrency('store on Redis', () =>
    createStrategy({ strategy: 'store', nodeId: 'n1', secret: 'k', store: { type: 'redis', url: redis.url, prefix: `cc${++bus}:` } }),
  );
  describeConcurrency('store on Redis Sentinel, waitReplicas: 1', () =>
    createStrategy({
      strategy: 'store',
      nodeId: 'n1',
      secret: 'k',
      store: { type: 'redis', sentinels: sentinel.sentinelAddresses, name: sentinel.name, waitReplicas: 1, waitTimeout: '2s', commandTimeout: '2s', prefix: `cc${++bus}:` },
    }),
  );
  describeConcurrency('store on Redis Cluster', () =>
    createStrategy({ strategy: 'store', nodeId: 'n1', secret: 'k', store: { type: 'redis', nodes: redisCluster.addresses, prefix: `cc${++bus}:` } }),
  );
  describeConcurrency('store on Hazelcast', () =>
    createStrategy({ strategy: 'store', nodeId: 'n1', secret: 'k', store: { type: 'hazelcast', members: hazelcast.addresses, clusterName: 'concurrency', map: `cc${++bus}` } }),
  );
  describeConcurrency(
    'cluster over Redis pub/sub',
    () => createStrategy({ strategy: 'cluster', nodeId: `n${++bus}`, secret: 'k', cluster: { transport: { type: 'redis', url: redis.url, channel: `cc${bus}` }, discoveryWait: 100 } }),
    { lock: false },
  );
  describeConcurrency(
    'cluster in process',
    () => createStrategy({ strategy: 'cluster', nodeId: `n${++bus}`, secret: 'k', cluster: { transport: { type: 'in-process', bus: `cc${bus}` }, discoveryWait: 50 } }),
    { lock: false },
  );
});
