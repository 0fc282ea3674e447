import { debuglog } from 'node:util';
import type { RedisCommandRunner } from './redis-command-runner.js';
import { ExpiryListener } from './redis-expiry-listener.js';
import { isWrongType } from './redis-session-layout.js';
import { EXPIRY_CLAIM_MS, isSessionIdLike, SHADOW_LINGER_MS, type UserIndexKeys } from './redis-user-index.js';

const debug = debuglog('scaleout:redis-session-index');

/**
 * The reading side of {@link RedisStore}'s index of sessions by user: the sessions of a user,
 * the expiries heard through keyspace notifications (each takes its id out of its user's set and
 * is reported through `expired`), and the claim of an expiry for `sessions.events: "once"`. The
 * writes keep the index themselves (redis-session-writes.ts).
 */
export class RedisSessionIndex {
  readonly keys: UserIndexKeys;
  readonly #runner: RedisCommandRunner;
  readonly #prefix: string;
  readonly #invalid: (value: string) => undefined;
  readonly #listener: ExpiryListener;
  #closed = false;

  constructor(runner: RedisCommandRunner, keys: UserIndexKeys, options: { prefix: string; invalid: (value: string) => undefined; expired: (id: string, userId: string | undefined) => void }) {
    this.#runner = runner;
    this.keys = keys;
    this.#prefix = options.prefix;
    this.#invalid = options.invalid;
    this.#listener = new ExpiryListener((key) => {
      this.#expired(key).then(
        (found) => found && options.expired(...found),
        () => undefined,
      );
    });
    this.#listener.start(runner.client).catch((err: Error) => debug('expiry events not started: %s', err.message));
  }

  /**
   * The ids in the user's set that still name a session: one `SMEMBERS`, one `EXISTS` per id (on
   * the node that holds it), and one `SREM` of those that are gone. A set that is not a set, or
   * members that cannot be session ids, are reported through `invalid` and dropped.
   */
  async sessionsOf(userId: string): Promise<string[]> {
    const client = this.#runner.client;
    const setKey = this.keys.set(userId);
    let members: string[];
    try {
      members = await this.#runner.run('sessionsOf', client.smembers(setKey));
    } catch (err) {
      if (isWrongType(err)) return this.#invalid(setKey) ?? [];
      throw err;
    }
    const live: string[] = [];
    const gone: string[] = [];
    const bad = members.filter((m) => !isSessionIdLike(m));
    for (const m of bad) this.#invalid(m);
    const ids = members.filter(isSessionIdLike);
    const exists = await Promise.all(ids.map((id) => this.#runner.run('sessionsOf', client.exists(this.#prefix + id))));
    ids.forEach((id, i) => (exists[i] ? live : gone).push(id));
    gone.push(...bad);
    if (gone.length) await this.#runner.run('sessionsOf', client.srem(setKey, ...gone));
    return live;
  }

  /** See `RedisStore.claimExpired`. */
  async claimExpired(id: string, nodeId: string): Promise<boolean> {
    return (await this.#runner.run('claimExpired', this.#runner.client.set(this.keys.claim(this.#prefix + id), nodeId, 'PX', EXPIRY_CLAIM_MS, 'NX'))) === 'OK';
  }

  /** A key expired on some master: a session's takes its id out of its user's set (known from the shadow); resolves the id and user to report. */
  async #expired(key: string): Promise<[string, string | undefined] | undefined> {
    if (this.#closed || !key.startsWith(this.#prefix)) return undefined;
    const client = this.#runner.client;
    const id = key.slice(this.#prefix.length);
    let userId: string | undefined;
    const shadow = this.keys.shadow(key);
    try {
      if (shadow !== key) {
        userId = this.keys.userOfField(await this.#runner.run('expired', client.get(shadow)));
        // Not deleted: every node subscribed reads it too. It goes on its own shortly.
        if (userId !== undefined) await this.#runner.run('expired', client.pexpire(shadow, SHADOW_LINGER_MS));
      }
      if (userId !== undefined) await this.#runner.run('expired', client.srem(this.keys.set(userId), id));
    } catch (err) {
      debug('expired: index not updated: %s', (err as Error).message);
    }
    return [id, userId];
  }

  close(): void {
    this.#closed = true;
    this.#listener.close();
  }
}
