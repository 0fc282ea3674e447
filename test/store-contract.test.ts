import { MemoryStore } from '@scaleout/core';
import { type RedisStoreConfig, createStore } from '@scaleout/redis';
import { describeStoreContract } from './support/store-contract.js';
import { type RedisClusterSet, type RedisSentinelSet, type RedisServer, startRedis, startRedisCluster, startRedisSentinel } from '@scaleout/harness';

// One contract, every backend: what makes switching between them a config change only.
// (Hazelcast runs the same contract in store-hazelcast.test.ts, next to its member set-up.)

const redisConfig = (shape: Partial<RedisStoreConfig>) => ({ type: 'redis', prefix: 'contract:', ...shape }) as RedisStoreConfig;

const both = { patch: true, lock: true };

describeStoreContract('MemoryStore', async () => new MemoryStore(), both);

describe('RedisStore, standalone', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });
  describeStoreContract('RedisStore (standalone)', () => createStore(redisConfig({ url: redis.url })), both);
});

describe('RedisStore, Sentinel', function () {
  this.timeout(60_000);
  let set: RedisSentinelSet;
  before(async () => {
    set = await startRedisSentinel({ replicas: 1, sentinels: 3 });
  });
  after(async () => {
    await set?.stop();
  });
  describeStoreContract('RedisStore (Sentinel)', () => createStore(redisConfig({ sentinels: set.sentinelAddresses, name: set.name })), both);
});

describe('RedisStore, Cluster', function () {
  this.timeout(60_000);
  let cluster: RedisClusterSet;
  before(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  });
  after(async () => {
    await cluster?.stop();
  });
  describeStoreContract('RedisStore (Cluster)', () => createStore(redisConfig({ nodes: cluster.addresses })), both);
});
