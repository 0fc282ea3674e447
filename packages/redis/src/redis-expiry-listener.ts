import { debuglog } from 'node:util';
import type { Redis } from 'ioredis';
import type { RedisClient } from './redis-client.js';
import { isCluster, mastersOf } from './redis-scan.js';

const debug = debuglog('scaleout:redis-expiry-listener');

/**
 * Subscribes to the `expired` keyevent channel of every master (keyspace notifications are local
 * to each node, so a Cluster needs one subscriber per master), after turning on `Ex` in
 * `notify-keyspace-events` (keeping the flags already set). A server that refuses `CONFIG SET`
 * (managed Redis) leaves the flags as they are: the subscription is made anyway, and if the
 * operator has not turned them on, no `expired` event comes (readers still drop the ids of
 * expired sessions from the sets, and the sets expire on their own).
 *
 * On a Cluster the subscribers follow the topology: after each refresh of the slots (ioredis
 * `refresh`, every `slotsRefreshInterval` and after a redirection) and each node added or
 * removed (`+node`, `-node`), a master without a subscriber (a replica promoted by a failover, a
 * master added) gets one, `Ex` turned on first as at start, and the subscriber of a node that is
 * no longer a master is closed. A subscriber that loses its connection resubscribes (ioredis)
 * and turns `Ex` on again (a restarted server, or Sentinel's new master, has forgotten it);
 * notifications sent meanwhile, or on a new master before its subscriber is there, are lost.
 */
export class ExpiryListener {
  /** One subscriber per master, by `host:port`. */
  readonly #subscribers = new Map<string, Redis>();
  readonly #onKey: (key: string) => void;
  #client: RedisClient | undefined;
  #channel = '';
  #closed = false;
  #sync: Promise<void> = Promise.resolve();
  readonly #onTopology = () => this.#follow();
  /** Masters on which `CONFIG SET notify-keyspace-events` was refused. */
  refused = 0;

  constructor(onKey: (key: string) => void) {
    this.#onKey = onKey;
  }

  /** How many masters are subscribed to. */
  get subscribed(): number {
    return this.#subscribers.size;
  }

  async start(client: RedisClient): Promise<void> {
    if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()));
    if (this.#closed) return;
    this.#client = client;
    this.#channel = `__keyevent@${isCluster(client) ? 0 : (client.options.db ?? 0)}__:expired`;
    if (isCluster(client)) for (const event of TOPOLOGY_EVENTS) client.on(event, this.#onTopology);
    await this.#follow();
  }

  /** Brings the subscribers in line with the masters of now; one pass at a time. */
  #follow(): Promise<void> {
    this.#sync = this.#sync.then(() => this.#reconcile()).catch((err: Error) => debug('expiry subscribers not updated: %s', err.message));
    return this.#sync;
  }

  async #reconcile(): Promise<void> {
    const client = this.#client;
    if (this.#closed || !client) return;
    const masters = new Map(mastersOf(client).map((node) => [nodeKey(node), node]));
    for (const [key, sub] of this.#subscribers) {
      if (masters.has(key)) continue;
      debug('%s is no longer a master: its subscriber closed', key);
      this.#subscribers.delete(key);
      sub.disconnect();
    }
    await Promise.all([...masters].filter(([key]) => !this.#subscribers.has(key)).map(([key, node]) => this.#subscribe(key, node)));
  }

  async #subscribe(key: string, node: Redis): Promise<void> {
    await this.#enable(node);
    if (this.#closed) return;
    // The store's clients connect lazily and queue nothing offline; a subscriber must connect
    // now and resubscribe by itself after a reconnect.
    const sub = node.duplicate({ lazyConnect: false, enableOfflineQueue: true, autoResubscribe: true, readOnly: false });
    this.#subscribers.set(key, sub);
    sub.on('error', (err: Error) => debug('subscriber: %s', err.message));
    sub.on('message', (_channel: string, k: string) => this.#onKey(k));
    await sub.subscribe(this.#channel);
    debug('listening to %s on %s', this.#channel, key);
    // A server that restarted, or the new master a Sentinel failover chose, has no `Ex` set by
    // this listener: it is turned on again at each reconnection of the subscriber.
    sub.on('ready', () => void this.#enableWhenReady(node));
  }

  async #enableWhenReady(node: Redis): Promise<void> {
    if (node.status !== 'ready') await new Promise<void>((resolve) => node.once('ready', () => resolve()));
    if (!this.#closed) await this.#enable(node);
  }

  async #enable(node: Redis): Promise<void> {
    try {
      const [, flags = ''] = (await node.config('GET', 'notify-keyspace-events')) as string[];
      const has = (c: string) => flags.includes(c) || (c === 'x' && flags.includes('A'));
      if (has('E') && has('x')) return;
      await node.config('SET', 'notify-keyspace-events', `${flags}${has('E') ? '' : 'E'}${has('x') ? '' : 'x'}`);
    } catch (err) {
      this.refused++;
      debug('notify-keyspace-events could not be set (%s): expired events only if the server already sends them', (err as Error).message);
    }
  }

  close(): void {
    this.#closed = true;
    const client = this.#client;
    if (client && isCluster(client)) for (const event of TOPOLOGY_EVENTS) client.off(event, this.#onTopology);
    for (const sub of this.#subscribers.values()) sub.disconnect();
    this.#subscribers.clear();
  }
}

/** What an ioredis Cluster emits when its view of the nodes may have changed. */
const TOPOLOGY_EVENTS = ['refresh', '+node', '-node'] as const;

function nodeKey(node: Redis): string {
  return `${node.options.host ?? ''}:${node.options.port ?? ''}`;
}
