import { createServer, connect, type Server, type Socket } from 'node:net';
import { expect } from 'chai';
import { createStore, type RedisStore } from '@scaleout/redis';
import { baseRedisArgs, eventually, freePort, redisCommand, redisInfo, type RedisSentinelSet, type ServerProcess, startRedisProcess, startRedisSentinel, waitForReplicaLink } from '@scaleout/harness';

const TTL = 60_000;

/**
 * A TCP relay to a Redis server that a test can hold or cut, standing in for a network link:
 * `hold()` stops what the server sends from reaching the other end (a replica behind it stays up
 * and answers Sentinel, it only stops receiving the replication stream, as on a congested link;
 * a SIGSTOPped replica would be seen down, and Sentinel never promotes a replica it sees down);
 * `cut()` drops every connection and refuses new ones (a partition).
 */
class TcpRelay {
  readonly port: number;
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  #held = false;
  #cut = false;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(targetPort: number): Promise<TcpRelay> {
    const port = await freePort();
    // The handler runs only once the server listens, after `relay` is set.
    const server = createServer((near) => relay.#join(near, connect(targetPort, '127.0.0.1')));
    const relay = new TcpRelay(server, port);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return relay;
  }

  #join(near: Socket, far: Socket): void {
    const pair: [Socket, Socket] = [near, far];
    this.#pairs.add(pair);
    const drop = () => {
      this.#pairs.delete(pair);
      near.destroy();
      far.destroy();
    };
    near.on('error', drop).on('close', drop);
    far.on('error', drop).on('close', drop);
    near.pipe(far);
    if (this.#held) far.pause();
    else far.pipe(near);
  }

  /** From now on nothing the server sends gets through (it stays unread in the kernel). */
  hold(): void {
    this.#held = true;
    for (const [near, far] of this.#pairs) {
      far.unpipe(near);
      far.pause();
    }
  }

  /** Drops every connection, with whatever was held, and refuses new ones. Safe to call twice. */
  async cut(): Promise<void> {
    if (this.#cut) return;
    this.#cut = true;
    for (const [near, far] of this.#pairs) {
      near.destroy();
      far.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A field of a `SENTINEL REPLICAS` entry. */
function field(flat: string[], name: string): string | undefined {
  const at = flat.indexOf(name);
  return at < 0 ? undefined : flat[at + 1];
}

/** The `SENTINEL REPLICAS` entry of the replica announced on `port` (empty when not listed). */
function replicaOn(replicas: string[][], port: number): string[] {
  return replicas.find((flat) => field(flat, 'port') === String(port)) ?? [];
}

/** Resolves once every Sentinel's list of replicas passes `check` (they read each replica's INFO every 10 s). */
async function waitForSentinels(sentinel: RedisSentinelSet, what: string, check: (replicas: string[][]) => boolean): Promise<void> {
  await Promise.all(
    sentinel.sentinels.map((s) =>
      eventually(async () => check((await redisCommand(s.port, undefined, 'SENTINEL', 'REPLICAS', sentinel.name)) as string[][]), 20_000, `sentinel :${s.port} seeing ${what}`),
    ),
  );
}

interface Layout {
  sentinel: RedisSentinelSet;
  /** The preferred replica's link to the master. */
  relay: TcpRelay;
  /** The replica that stays in sync. */
  current: number;
  /** The replica behind the relay, at the `replica-priority` the layout was started with. */
  preferred: number;
}

/**
 * A master with two replicas under three Sentinels. The second replica reaches its master through
 * a relay and gets `preferredPriority` (the first keeps the default 100): at 1, Sentinel promotes
 * it whatever its replication offset, since it ranks replicas by priority first, then offset,
 * then run id; at 100, the offset decides. Sentinel's `failover-timeout` is long so that it does not "fix" the relayed replica's
 * master address back to the master's own during the test.
 */
async function startLayout(preferredPriority: number): Promise<Layout> {
  const sentinel = await startRedisSentinel({ replicas: 2, sentinels: 3, failoverTimeoutMs: 60_000 });
  try {
    const [current, preferred] = sentinel.redis.replicas.map((r) => r.port) as [number, number];
    const relay = await TcpRelay.start(sentinel.redis.port);
    await redisCommand(preferred, undefined, 'CONFIG', 'SET', 'replica-priority', String(preferredPriority));
    await redisCommand(preferred, undefined, 'REPLICAOF', '127.0.0.1', relay.port);
    await waitForReplicaLink(preferred, undefined);
    // Every Sentinel must have read the new priority before the failover.
    await waitForSentinels(sentinel, `replica :${preferred} at priority ${preferredPriority}`, (replicas) => field(replicaOn(replicas, preferred), 'slave-priority') === String(preferredPriority));
    return { sentinel, relay, current, preferred };
  } catch (err) {
    await sentinel.stop();
    throw err;
  }
}

interface PartitionLayout {
  sentinel: RedisSentinelSet;
  /** The replica the Sentinels reach directly: the one they promote. */
  promotable: number;
  /** The replica the Sentinels reach only through `sentinelLink`; it reaches the master directly. */
  stranded: ServerProcess;
  sentinelLink: TcpRelay;
}

/**
 * A master with two replicas under three Sentinels, the second replica announced to them
 * (`replica-announce-port`) behind a relay: cutting it puts that replica, with the master and the
 * app, on one side of a partition, and the Sentinels with the other replica on the other side.
 */
async function startPartitionLayout(): Promise<PartitionLayout> {
  const sentinel = await startRedisSentinel({ replicas: 1, sentinels: 3 });
  const started: { stranded?: ServerProcess; link?: TcpRelay } = {};
  try {
    const port = await freePort();
    const link = (started.link = await TcpRelay.start(port));
    const args = [...baseRedisArgs(port, sentinel.redis.dir, undefined), '--replicaof', '127.0.0.1', String(sentinel.redis.port), '--replica-announce-ip', '127.0.0.1', '--replica-announce-port', String(link.port)];
    const stranded = (started.stranded = await startRedisProcess(`redis replica :${port}`, port, sentinel.redis.dir, args));
    await waitForReplicaLink(port, undefined);
    await waitForSentinels(sentinel, `replica :${link.port}`, (replicas) => field(replicaOn(replicas, link.port), 'flags') === 'slave');
    return { sentinel, promotable: sentinel.redis.replicas[0]!.port, stranded, sentinelLink: link };
  } catch (err) {
    await started.link?.cut();
    await started.stranded?.stop();
    await sentinel.stop();
    throw err;
  }
}

async function storeOn({ sentinel }: { sentinel: RedisSentinelSet }, waitReplicas: number): Promise<RedisStore> {
  return createStore({ type: 'redis', sentinels: sentinel.sentinelAddresses, name: sentinel.name, waitReplicas, waitTimeout: '500ms', commandTimeout: '1s' });
}

/** Kills the master, drops what the relay held, and resolves with the port of the promoted replica once it takes writes. */
async function killMaster(layout: Layout): Promise<number> {
  const old = layout.sentinel.redis.port;
  await layout.sentinel.redis.kill('SIGKILL');
  await layout.relay.cut();
  return layout.sentinel.waitForFailover(old, 30_000);
}

/** The session as the store reads it once it has followed the failover. */
async function readAfterFailover(store: RedisStore, id: string): Promise<unknown> {
  const read = await eventually(() => store.get(id).then((v) => ({ value: v }), () => undefined), 20_000, `the store reading ${id} after the failover`);
  return read?.value;
}

describe('Redis Sentinel: which writes waitReplicas keeps through a failover to a replica that did not confirm them', function () {
  this.timeout(120_000);

  /**
   * The replica behind the relay stops receiving the replication stream, a session is written,
   * then the master is SIGKILLed (in `check`).
   */
  function laggingReplicaCase(waitReplicas: number, preferredPriority: number, setting: string, title: string, check: (layout: Layout, store: RedisStore) => Promise<void>) {
    describe(`waitReplicas ${waitReplicas} with 2 replicas, ${setting}`, () => {
      let layout: Layout;
      let store: RedisStore;
      before(async () => {
        layout = await startLayout(preferredPriority);
        store = await storeOn(layout, waitReplicas);
      });
      after(async () => {
        await store?.close();
        await layout?.relay.cut();
        await layout?.sentinel.stop();
      });

      it(title, async () => {
        await store.set('before', { n: 1 }, TTL);
        layout.relay.hold();
        await check(layout, store);
      });
    });
  }

  laggingReplicaCase(1, 1, 'the preferred replica lagging', 'acknowledges a write only the other replica has, and loses it when Sentinel promotes the lagging one', async (layout, store) => {
    await store.set('at-risk', { n: 2 }, TTL);
    // Acknowledged: the replica that keeps up confirmed it; the preferred one never received it.
    expect(await redisCommand(layout.current, undefined, 'EXISTS', 'sess:at-risk')).to.equal(1);
    expect(await redisCommand(layout.preferred, undefined, 'EXISTS', 'sess:at-risk')).to.equal(0);

    const promoted = await killMaster(layout);
    expect(promoted, 'Sentinel promotes by replica-priority before replication offset').to.equal(layout.preferred);
    expect(await readAfterFailover(store, 'before')).to.deep.equal({ n: 1 });
    expect(await readAfterFailover(store, 'at-risk'), 'the acknowledged write is gone').to.equal(undefined);
  });

  laggingReplicaCase(2, 1, 'every one of them, the preferred replica lagging', 'refuses the write the lagging replica cannot confirm, and keeps every acknowledged one', async (layout, store) => {
    const refused = await store.set('at-risk', { n: 2 }, TTL).then(() => undefined, (err: unknown) => err);
    expect(refused, 'the write is not acknowledged').to.include({ name: 'ReplicaAckError', code: 'ERR_SCALEOUT_STORE_UNAVAILABLE', acknowledged: 1, required: 2 });

    const promoted = await killMaster(layout);
    expect(promoted).to.equal(layout.preferred);
    expect(await readAfterFailover(store, 'before'), 'the acknowledged write survives').to.deep.equal({ n: 1 });
    // The new master has one replica left, fewer than waitReplicas: writes are refused until
    // another replica joins it, rather than acknowledged without the promise.
    await eventually(async () => (await redisInfo(promoted, undefined, 'replication')).get('connected_slaves') === '1', 20_000, 'the other replica following the new master');
    const after = await store.set('after', { n: 3 }, TTL).then(() => undefined, (err: unknown) => err);
    expect(after).to.include({ name: 'ReplicaAckError', acknowledged: 1, required: 2 });
  });

  laggingReplicaCase(1, 100, 'of equal priority, one lagging', 'promotes the replica that confirmed the write (the larger replication offset)', async (layout, store) => {
    await store.set('at-risk', { n: 2 }, TTL);
    // Sentinel ranks by the offsets of its last INFO of each replica: once the master is down it
    // reads them every second, but a reading older than the write would rank the two as equal.
    const offset = (replicas: string[][], port: number) => Number(field(replicaOn(replicas, port), 'slave-repl-offset'));
    await waitForSentinels(layout.sentinel, 'the offsets after the write', (replicas) => offset(replicas, layout.current) > offset(replicas, layout.preferred));
    const promoted = await killMaster(layout);
    expect(promoted, 'the replica with the larger offset').to.equal(layout.current);
    expect(await readAfterFailover(store, 'at-risk')).to.deep.equal({ n: 2 });
  });

  /**
   * The old master, cut off from the Sentinels, keeps serving the app with the replica on its side
   * of the partition: Sentinel promotes the other replica, and demotes the old master only once it
   * has seen it again for 8 s (4 × its 2 s hello period).
   */
  function partitionCase(waitReplicas: number, title: string, check: (layout: PartitionLayout, store: RedisStore) => Promise<void>) {
    describe(`waitReplicas ${waitReplicas} with 2 replicas, the old master partitioned with one of them`, () => {
      let layout: PartitionLayout;
      let store: RedisStore;
      before(async () => {
        layout = await startPartitionLayout();
        store = await storeOn(layout, waitReplicas);
      });
      after(async () => {
        layout?.sentinel.redis.master.resume();
        await store?.close();
        await layout?.sentinelLink.cut();
        await layout?.stranded.stop();
        await layout?.sentinel.stop();
      });

      it(title, async () => {
        const { sentinel } = layout;
        await store.set('before', { n: 1 }, TTL);
        await layout.sentinelLink.cut();
        // The master answers nobody while the Sentinels elect; its connections stay open.
        sentinel.redis.master.pause();
        const promoted = await sentinel.waitForFailover(sentinel.redis.port, 30_000);
        expect(promoted).to.equal(layout.promotable);
        sentinel.redis.master.resume();
        expect(await redisCommand(promoted, undefined, 'EXISTS', 'sess:before'), 'written before the partition').to.equal(1);
        await check(layout, store);
      });
    });
  }

  partitionCase(1, 'acknowledges a write the old master and its replica take after the promotion, and loses it when the old master is demoted', async (layout, store) => {
    await store.set('at-risk', { n: 2 }, TTL);
    expect(await redisCommand(layout.stranded.port, undefined, 'EXISTS', 'sess:at-risk'), 'confirmed by the stranded replica').to.equal(1);
    expect(await redisCommand(layout.promotable, undefined, 'EXISTS', 'sess:at-risk'), 'never on the new master').to.equal(0);
    await eventually(() => store.get('at-risk').then((v) => v === undefined, () => false), 30_000, 'the old master demoted and the write gone');
  });

  partitionCase(2, 'refuses every write on the old master, which has lost the promoted replica', async (layout, store) => {
    const refused = await store.set('at-risk', { n: 2 }, TTL).then(() => undefined, (err: unknown) => err);
    expect(refused, 'the write is not acknowledged').to.include({ name: 'ReplicaAckError', acknowledged: 1, required: 2 });
    expect(await redisCommand(layout.promotable, undefined, 'EXISTS', 'sess:before'), 'the acknowledged write survives').to.equal(1);
  });
});
