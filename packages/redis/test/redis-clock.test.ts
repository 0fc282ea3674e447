import { expect } from 'chai';
import { Redis } from 'ioredis';
import { type RedisServer, startRedis } from '@scaleout/harness';
import { RedisClock } from '../src/redis-clock.js';

/** Redis's time now, ms since the epoch. */
async function redisNow(client: Redis): Promise<number> {
  const [s, us] = await client.time();
  return Number(s) * 1000 + Number(us) / 1000;
}

describe('RedisClock', function () {
  this.timeout(20_000);
  let redis: RedisServer;
  const clients: Redis[] = [];
  const client = (url: string) => {
    const c = new Redis(url, { maxRetriesPerRequest: 1 });
    clients.push(c);
    return c;
  };
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });

  it("gives no deadline before Redis's clock has been read", () => {
    expect(new RedisClock(client(redis.url)).deadline(1000)).to.equal('');
  });

  it("puts the deadline a budget ahead on Redis's clock, less the reading's uncertainty", async () => {
    const c = client(redis.url);
    const clock = new RedisClock(c);
    await clock.measure();
    const before = await redisNow(c);
    const deadline = Number(clock.deadline(1000));
    const after = await redisNow(c);
    // Within the budget from when it was asked for, and not more than the round trips and the 10 ms safety short of it.
    expect(deadline).to.be.at.most(after + 1000);
    expect(deadline).to.be.at.least(before + 1000 - 10 - (after - before) - 20);
  });

  it('gives no deadline when the budget leaves no room after the safety margin', async () => {
    const clock = new RedisClock(client(redis.url));
    await clock.measure();
    expect(clock.deadline(5)).to.equal('');
  });

  it('leaves deadlines off, without throwing, when TIME is refused (an ACL user without it)', async () => {
    const admin = client(redis.url);
    await admin.call('ACL', 'SETUSER', 'no-time', 'on', '>no-time-pw', '~*', '+@all', '-time');
    const url = new URL(redis.url);
    url.username = 'no-time';
    url.password = 'no-time-pw';
    const clock = new RedisClock(client(url.href));
    await clock.measure();
    expect(clock.deadline(1000)).to.equal('');
  });
});
