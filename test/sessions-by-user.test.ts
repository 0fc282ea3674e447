import { randomUUID } from 'node:crypto';
import { createStrategy, MemoryStore, assembleStrategy, parseConfig, type ScaleoutConfigInput, type Strategy } from '@scaleout/core';
import { describeExpiredDelivery, describeSessionsByUser } from './support/sessions-by-user.js';
import { type HazelcastCluster, type RedisClusterSet, type RedisServer, startHazelcast, startRedis, startRedisCluster } from '@scaleout/harness';
import { describeRedisIndex, indexSize } from './support/redis-user-index.js';
import type { HazelcastStore } from '@scaleout/hazelcast';

// Log in, list a user's devices, log out everywhere, and session events, on every strategy.
const secret = 'by-user-secret';

describe('sessions by user', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let redisCluster: RedisClusterSet;
  let hazelcast: HazelcastCluster;
  before(async () => {
    [redis, redisCluster, hazelcast] = await Promise.all([startRedis(), startRedisCluster({ masters: 3, replicasPerMaster: 0 }), startHazelcast()]);
  });
  after(() => Promise.all([redis?.stop(), redisCluster?.stop(), hazelcast?.stop()]));

  // One store shared by an Express node and a Koa node (two strategies over one MemoryStore).
  describeSessionsByUser('store on memory', async (ttl) => {
    const shared = new MemoryStore({ sweepInterval: 100 });
    const config = parseConfig({ strategy: 'store', nodeId: 'm1', secret, session: { ttl: ttl ?? '30m' } });
    const a = assembleStrategy({ kind: 'store', nodeId: 'm1', store: shared, config });
    const b: Strategy = Object.assign(assembleStrategy({ kind: 'store', nodeId: 'm2', store: shared, config }), { close: async () => {} });
    return [a, b];
  }, { hygiene: { users: 1000, perUser: 3 }, expiry: { ttl: '1s', latencyMs: 1000 } });

  describeSessionsByUser('cluster over Redis pub/sub', async (ttl) => {
    const channel = `by-user-${randomUUID()}`;
    const make = (nodeId: string) => createStrategy({ strategy: 'cluster', nodeId, secret, session: { ttl: ttl ?? '30m' }, cluster: { transport: { type: 'redis', url: redis.url, channel }, discoveryWait: 100 } });
    return [await make('c1'), await make('c2')];
  }, { hygiene: { users: 300, perUser: 3 }, expiry: { ttl: '1s', latencyMs: 3000 } });

  // Two nodes, each with its own client, over one Redis: standalone, then a Cluster of three masters.
  const onRedis = (store: () => { url: string } | { nodes: string[] }) => async (ttl?: string): Promise<[Strategy, Strategy]> => {
    const make = (nodeId: string) => createStrategy({ strategy: 'store', nodeId, secret, session: { ttl: ttl ?? '30m' }, store: { type: 'redis', ...store() } });
    return [await make('r1'), await make('r2')];
  };
  const standalone = onRedis(() => ({ url: redis.url }));
  const onCluster = onRedis(() => ({ nodes: redisCluster.addresses }));
  describeSessionsByUser('store on Redis', standalone, { indexSize, hygiene: { users: 1000, perUser: 3 }, expiry: { ttl: '1s', latencyMs: 2000 } });
  describeRedisIndex('Redis', standalone);
  describeSessionsByUser('store on Redis Cluster', onCluster, { indexSize, hygiene: { users: 1000, perUser: 3 }, expiry: { ttl: '1s', latencyMs: 2000 } });
  describeRedisIndex('Redis Cluster', onCluster);

  // Three nodes, each with its own client, sharing one backend; a fresh key space per test.
  const three = (store: () => ScaleoutConfigInput['store']) => (events: 'once' | 'every-node', nodeIds: string[]) => {
    const shared = store();
    return Promise.all(nodeIds.map((nodeId) => createStrategy({ strategy: 'store', nodeId, secret, sessions: { events }, store: shared })));
  };
  describeExpiredDelivery('Redis', three(() => ({ type: 'redis', url: redis.url })), { n: 30, latencyMs: 3000 });
  describeExpiredDelivery('Redis Cluster', three(() => ({ type: 'redis', nodes: redisCluster.addresses })), { n: 30, latencyMs: 3000 });

  // Two nodes, each with its own client, over one Hazelcast member; a map per pair. Members
  // sweep expired entries every 5 s, so expired comes about that late on a quiet machine; the
  // member's JVM on a loaded one has taken over 9 s, hence the 20 s allowed.
  let maps = 0;
  describeSessionsByUser('store on Hazelcast', async (ttl) => {
    const map = `by-user-${++maps}`;
    const make = (nodeId: string) => createStrategy({ strategy: 'store', nodeId, secret, session: { ttl: ttl ?? '30m' }, store: { type: 'hazelcast', members: hazelcast.addresses, clusterName: hazelcast.clusterName, map } });
    return [await make('h1'), await make('h2')];
  }, { indexSize: (s) => (s.store as unknown as HazelcastStore).indexedSessions(), hygiene: { users: 1000, perUser: 3 }, expiry: { ttl: '1s', latencyMs: 20_000 } });
  describeExpiredDelivery('Hazelcast', three(() => ({ type: 'hazelcast', members: hazelcast.addresses, clusterName: hazelcast.clusterName, map: `by-user-${++maps}` })), { n: 12, latencyMs: 40_000, settleMs: 1000 });
});
