import { expect } from 'chai';
import { Cluster, Redis } from 'ioredis';
import { redisStoreConfigSchema, type RedisStoreConfig } from '@scaleout/redis';
import { createRedisClient, describeTarget } from '../src/redis-client.js';

const config = (shape: Record<string, unknown>) => redisStoreConfigSchema.parse({ type: 'redis', ...shape }) as RedisStoreConfig;

describe('createRedisClient', () => {
  const clients: (Redis | Cluster)[] = [];
  const build = (c: RedisStoreConfig) => {
    const client = createRedisClient(c);
    clients.push(client);
    return client;
  };
  after(() => {
    for (const c of clients) c.disconnect();
  });

  it('builds an unconnected, fail-fast client for a URL', () => {
    const client = build(config({ url: 'redis://user:pw@127.0.0.1:6390/2', commandTimeout: 700 })) as Redis;
    expect(client).to.be.instanceOf(Redis);
    expect(client.status).to.equal('wait');
    expect(client.options).to.include({ port: 6390, db: 2, username: 'user', password: 'pw', enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 700 });
  });

  it('lets the URL win over fields left out, and takes the password field when the URL has none', () => {
    const client = build(config({ url: 'redis://127.0.0.1:6391', password: 'from-config' })) as Redis;
    expect(client.options.password).to.equal('from-config');
  });

  it('builds a Sentinel client from sentinels + name, with TLS to both when asked', () => {
    const client = build(config({ sentinels: ['10.0.0.1:26379', '[::1]:26380'], name: 'sessions', sentinelPassword: 'sp', tls: true })) as Redis;
    expect(client.options.sentinels).to.deep.equal([{ host: '10.0.0.1', port: 26379 }, { host: '::1', port: 26380 }]);
    expect(client.options).to.include({ name: 'sessions', sentinelPassword: 'sp', enableTLSForSentinelMode: true });
    expect(client.options.tls).to.deep.equal({});
  });

  it('builds a Cluster client from nodes, reading from masters only', () => {
    const client = build(config({ nodes: ['10.0.0.1:7000', '10.0.0.2:7000'], password: 'pw' })) as Cluster;
    expect(client).to.be.instanceOf(Cluster);
    expect(client.options).to.include({ enableOfflineQueue: false, scaleReads: 'master' });
    expect(client.options.redisOptions).to.include({ password: 'pw', maxRetriesPerRequest: 1 });
  });
});

describe('describeTarget', () => {
  it('names the addresses and never the credentials', () => {
    expect(describeTarget(config({ url: 'redis://user:secret@cache.internal:6390' }))).to.equal('Redis at cache.internal:6390');
    expect(describeTarget(config({ url: 'rediss://cache.internal' }))).to.equal('Redis at cache.internal:6379');
    expect(describeTarget(config({ sentinels: ['a:1', 'b:2'], name: 'm' }))).to.equal('Redis master "m" via Sentinels a:1, b:2');
    expect(describeTarget(config({ nodes: ['a:1'] }))).to.equal('Redis Cluster nodes a:1');
  });
});
