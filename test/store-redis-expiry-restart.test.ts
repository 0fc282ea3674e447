import { expect } from 'chai';
import { createStrategy, type Strategy } from '@scaleout/core';
import { startRedis, type RedisServer } from '@scaleout/harness';
import { expiredEventOf } from './support/redis-user-index.js';

// A restarted redis-server has forgotten the CONFIG SET that turned expiry notifications on: the
// store turns them on again when its subscriber reconnects (as after a Sentinel failover).
describe('Redis: expired events after the server restarts', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let strategy: Strategy;

  before(async () => {
    redis = await startRedis();
    strategy = await createStrategy({ strategy: 'store', nodeId: 'r1', secret: 'expiry restart secret', store: { type: 'redis', url: redis.url } });
  });
  after(async () => {
    await strategy?.close();
    await redis?.stop();
  });

  it('emits expired for a session saved after a SIGKILL and restart of the server', async () => {
    expect((await expiredEventOf(strategy, `before-${Date.now()}`)).userId).to.match(/^u-before-/);
    await redis.kill('SIGKILL');
    await redis.restart();
    const e = await expiredEventOf(strategy, `after-${Date.now()}`);
    expect(e.userId).to.match(/^u-after-/);
    const [, flags] = (await redis.command('CONFIG', 'GET', 'notify-keyspace-events')) as string[];
    expect(flags).to.include('E').and.to.include('x');
  });
});
