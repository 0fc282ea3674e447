import { debuglog } from 'node:util';
import { MAX_SESSION_ID_LENGTH, userOf } from '@scaleout/core';
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './redis-client.js';
import { mastersOf } from './redis-scan.js';

const debug = debuglog('scaleout:redis-user-index');

/**
 * How much longer than its session a user shadow lives: the time the expired notification has to
 * arrive and be read (Redis notices an expired key lazily or by sampling, see docs). Spring
 * Session keeps its expired session data five minutes for the same reason.
 */
export const SHADOW_MARGIN_MS = 5 * 60_000;

/** How long a shadow stays once its session's expiry was handled: every node subscribed reads it. */
export const SHADOW_LINGER_MS = 5_000;

/**
 * How long the claim of an expiry (`session.events: "once"`) is kept: long past the moment every
 * subscriber hears the notification, so a late node still finds it taken. An id that expired
 * twice within it (an app reusing ids) would be announced once.
 */
export const EXPIRY_CLAIM_MS = 60_000;

/**
 * Names of the user-index keys, all under `userPrefix` (which neither starts with the session
 * prefix nor is a beginning of it, so none of them is ever listed as a session):
 * - `userPrefix + "u:" + userId`, a set of the user's session ids;
 * - `userPrefix + "s:{" + sessionKey + "}"`, the user's id (JSON, as in the hash) kept beside a
 *   session, in its Cluster slot (the braces make Redis hash only the session key), living
 *   {@link SHADOW_MARGIN_MS} longer: once Redis expires the hash, it still says whose it was;
 * - `userPrefix + "x:" + sessionKey`, the node that claimed the session's expiry (`once` events),
 *   living {@link EXPIRY_CLAIM_MS}.
 */
export class UserIndexKeys {
  readonly userPrefix: string;
  readonly field: string;
  readonly userKey: string;
  readonly #shadows: boolean;

  constructor(userPrefix: string, userKey: string, field: string) {
    this.userPrefix = userPrefix;
    this.userKey = userKey;
    this.field = field;
    this.#shadows = !/[{}]/.test(userPrefix);
  }

  set(userId: string): string {
    return `${this.userPrefix}u:${userId}`;
  }

  /** The key by which nodes claim the expiry of a session key. */
  claim(sessionKey: string): string {
    return `${this.userPrefix}x:${sessionKey}`;
  }

  /** The shadow of a session key, or the session key itself when braces in it leave no way to share its slot. */
  shadow(sessionKey: string): string {
    return this.#shadows && !/[{}]/.test(sessionKey) ? `${this.userPrefix}s:{${sessionKey}}` : sessionKey;
  }

  /** The user a stored user field (JSON) names, as `userOf` reads it. */
  userOfField(json: string | null | undefined | false): string | undefined {
    if (typeof json !== 'string') return undefined;
    try {
      return userOf({ [this.userKey]: JSON.parse(json) as unknown }, this.userKey);
    } catch {
      return undefined;
    }
  }
}

/** Whether a set member can be a session id at all. */
export function isSessionIdLike(member: string): boolean {
  return member.length > 0 && member.length <= MAX_SESSION_ID_LENGTH;
}

/**
 * Subscribes to the `expired` keyevent channel of every master (keyspace notifications are local
 * to each node, so a Cluster needs one subscriber per master), after turning on `Ex` in
 * `notify-keyspace-events` (keeping the flags already set). A server that refuses `CONFIG SET`
 * (managed Redis) leaves the flags as they are: the subscription is made anyway, and if the
 * operator has not turned them on, no `expired` event comes (readers still drop the ids of
 * expired sessions from the sets, and the sets expire on their own). The masters are those of
 * when it starts; a subscriber that loses its connection resubscribes (ioredis), and
 * notifications sent meanwhile are lost.
 */
export class ExpiryListener {
  readonly #subscribers: Redis[] = [];
  readonly #onKey: (key: string) => void;
  #closed = false;
  /** Masters on which `CONFIG SET notify-keyspace-events` was refused. */
  refused = 0;

  constructor(onKey: (key: string) => void) {
    this.#onKey = onKey;
  }

  async start(client: RedisClient): Promise<void> {
    if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()));
    const db = client instanceof Cluster ? 0 : (client.options.db ?? 0);
    const channel = `__keyevent@${db}__:expired`;
    await Promise.all(
      mastersOf(client).map(async (node) => {
        await this.#enable(node);
        if (this.#closed) return;
        // The store's clients connect lazily and queue nothing offline; a subscriber must connect
        // now and resubscribe by itself after a reconnect.
        const sub = node.duplicate({ lazyConnect: false, enableOfflineQueue: true, autoResubscribe: true });
        this.#subscribers.push(sub);
        sub.on('error', (err: Error) => debug('subscriber: %s', err.message));
        sub.on('message', (_channel: string, key: string) => this.#onKey(key));
        await sub.subscribe(channel);
        debug('listening to %s on %s:%d', channel, node.options.host, node.options.port);
      }),
    );
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
    for (const sub of this.#subscribers.splice(0)) sub.disconnect();
  }
}
