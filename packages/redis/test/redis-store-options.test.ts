import { expect } from 'chai';
import { Redis } from 'ioredis';
import { DEFAULT_REDIS_STORE_OPTIONS, resolveRedisStoreOptions } from '../src/redis-store-options.js';

describe('RedisStore options', () => {
  it('has the defaults its schema fills in, and only those', () => {
    expect(DEFAULT_REDIS_STORE_OPTIONS).to.deep.equal({
      ownsClient: false,
      prefix: 'sess:',
      waitReplicas: 0,
      waitTimeout: 1000,
      commandTimeout: 1000,
      maxValueBytes: 1024 * 1024,
      scanCount: 1000,
    });
    expect(Object.isFrozen(DEFAULT_REDIS_STORE_OPTIONS)).to.equal(true);
  });

  it('resolves a store given only its client to the same defaults', () => {
    const client = new Redis({ lazyConnect: true });
    const { client: _client, serializer: _serializer, lockPrefix, userPrefix, ...rest } = resolveRedisStoreOptions({ client });
    expect(rest).to.deep.equal(DEFAULT_REDIS_STORE_OPTIONS);
    expect([lockPrefix, userPrefix]).to.deep.equal(['lock:sess:', 'user:sess:']);
    client.disconnect();
  });
});
