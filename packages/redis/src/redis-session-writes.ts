import { applyPatch, InvalidArgumentError, StoreTimeoutError, StoreUnavailableError, userOf, type SessionData, type SessionPatch } from '@scaleout/core';
import type { RedisClock } from './redis-clock.js';
import type { RedisCommandRunner } from './redis-command-runner.js';
import { fieldText, type RedisSessionLayout } from './redis-session-layout.js';
import { LATE, sha1, type IndexedReply, type PatchReply } from './redis-scripts.js';
import { SHADOW_MARGIN_MS, USER_SET_RENEW_MS, type UserIndexKeys } from './redis-user-index.js';
import { fieldOf, LAYOUT_VERSION, metaFields, sessionFields } from './serializer.js';

/** Tries a patch may take while other nodes keep rewriting a string-layout session under it. */
const MAX_PATCH_ATTEMPTS = 8;

/**
 * The write paths of {@link RedisStore} (a full save, a patch, a touch, a destroy), each one
 * script on the session key (and its user shadow, in the same slot), then, when users are
 * indexed, the user's set kept if the script says it must be: when the user changed, or when the
 * session's mark (serializer.ts `META.userSet`) no longer covers the new lifetime, about once per
 * {@link USER_SET_RENEW_MS} per session. Keys are `prefix + id`; `index()` says whether users
 * are indexed.
 */
export class RedisSessionWrites {
  readonly #runner: RedisCommandRunner;
  readonly #layout: RedisSessionLayout;
  readonly #prefix: string;
  readonly #index: () => UserIndexKeys | undefined;
  readonly #invalid: (id: string) => undefined;
  readonly #clock: RedisClock;
  /** How long after it is sent a write may still be applied (`writeDeadline`), or false. */
  readonly #budget: number | false;

  constructor(
    runner: RedisCommandRunner,
    layout: RedisSessionLayout,
    options: { prefix: string; index: () => UserIndexKeys | undefined; invalid: (id: string) => undefined; clock: RedisClock; writeDeadline: number | false },
  ) {
    this.#runner = runner;
    this.#layout = layout;
    this.#prefix = options.prefix;
    this.#index = options.index;
    this.#invalid = options.invalid;
    this.#clock = options.clock;
    this.#budget = options.writeDeadline;
  }

  /** Replaces the whole session with one script: delete, write the hash, set its expiry. */
  async set(id: string, data: SessionData, px: number): Promise<void> {
    const now = Date.now();
    const pairs = this.#layout.encode(data, px);
    const key = this.#prefix + id;
    let reply = await this.#replace('set', key, '', px, now, pairs);
    if (reply === LATE) reply = await this.#replace('set', key, '', px, now, pairs, true);
    if (Array.isArray(reply)) await this.#reindex(id, this.#index()!.userOfField(reply[1]), reply, px, now);
  }

  /** The deadline of a write sent now (see redis-clock.ts), '' for none. */
  #deadline(): string {
    return this.#budget === false ? '' : this.#clock.deadline(this.#budget);
  }

  /**
   * A write came back refused as late ({@link LATE}). When it did so well before its caller's
   * timeout, the write was not held up: Redis's clock has moved against the last reading (a
   * clock step), so it is read again and the write may be tried once more (`retry`). Otherwise
   * it is the timeout its caller has met, or is about to.
   */
  async #late(operation: string, sentAt: number, retried: boolean): Promise<void> {
    const budget = this.#budget === false ? this.#runner.commandTimeout : this.#budget;
    if (!retried && performance.now() - sentAt < budget / 2) return this.#clock.measure();
    throw new StoreTimeoutError(`${operation} (it reached Redis after its deadline and was not applied)`, budget);
  }

  /** See `RedisStore.patch`. */
  async patch(id: string, patch: SessionPatch, px: number): Promise<boolean> {
    const key = this.#prefix + id;
    const now = Date.now();
    const pairs = metaFields(px, now, false);
    try {
      sessionFields(patch.set, pairs);
    } catch (err) {
      throw new InvalidArgumentError('data', `session values must be JSON: ${(err as Error).message}`);
    }
    this.#layout.checkSize(pairs);
    const index = this.#index();
    const shadow = index ? index.shadow(key) : key;
    const args: (string | number)[] = [LAYOUT_VERSION, px, index?.field ?? '', px + SHADOW_MARGIN_MS, now + px + SHADOW_MARGIN_MS, pairs.length, ...pairs];
    for (const k of patch.unset) args.push(fieldOf(k));
    const binary = this.#layout.serializer.binary === true;
    const client = this.#runner.client;
    let retried = false;
    for (let attempt = 0; attempt < MAX_PATCH_ATTEMPTS; attempt++) {
      const deadline = this.#deadline();
      const sentAt = performance.now();
      const reply = await this.#runner.write<PatchReply>(
        'patch',
        () => (binary ? client.scaleoutPatchBuffer(key, shadow, deadline, ...args) : client.scaleoutPatch(key, shadow, deadline, ...args)),
        (p) => (binary ? p.scaleoutPatchBuffer(key, shadow, deadline, ...args) : p.scaleoutPatch(key, shadow, deadline, ...args)),
      );
      if (reply === LATE) {
        await this.#late('patch', sentAt, retried);
        retried = true;
        continue;
      }
      if (Array.isArray(reply)) {
        await this.#reindex(id, index!.userOfField(fieldText(reply[1])), reply, px, now);
        return true;
      }
      if (reply === 1) return true;
      if (reply === 0) return false;
      if (typeof reply === 'number') return this.#invalid(id) ?? false;
      const current = this.#layout.decodeString(id, reply);
      if (!current) return false;
      const replaced = await this.#replace('patch', key, sha1(reply), px, now, this.#layout.encode(applyPatch(current, patch), px), retried);
      if (replaced === LATE) {
        retried = true;
        continue;
      }
      if (Array.isArray(replaced)) await this.#reindex(id, userOf(current, index!.userKey), replaced, px, now);
      if (replaced === 1 || Array.isArray(replaced)) return true;
    }
    throw new StoreUnavailableError(`session store patch: the session changed under ${MAX_PATCH_ATTEMPTS} attempts in a row`);
  }

  /** Slides the expiry. Not followed by `WAIT`: a touch lost in a failover only leaves the previous expiry. */
  async touch(id: string, px: number): Promise<void> {
    const key = this.#prefix + id;
    const index = this.#index();
    const client = this.#runner.client;
    if (!index) {
      await this.#runner.run('touch', client.pexpire(key, px));
      return;
    }
    // The user's set must live as long as the session: the touch tells whose session it is when
    // the session's mark does not say the set lives long enough.
    const now = Date.now();
    const field = fieldText(await this.#runner.run('touch', client.scaleoutTouch(key, index.shadow(key), px, px + SHADOW_MARGIN_MS, index.field, now + px + SHADOW_MARGIN_MS)));
    const userId = index.userOfField(field);
    if (userId !== undefined) await this.#keepSet('touch', id, userId, field!, px, now);
  }

  /** Removes the session (and its shadow), then its id from its user's set. */
  async destroy(id: string): Promise<void> {
    const key = this.#prefix + id;
    const index = this.#index();
    const client = this.#runner.client;
    if (!index) {
      await this.#runner.write('destroy', () => client.unlink(key), (p) => p.unlink(key));
      return;
    }
    const shadow = index.shadow(key);
    const field = await this.#runner.write('destroy', () => client.scaleoutDestroy(key, shadow, index.field), (p) => p.scaleoutDestroy(key, shadow, index.field));
    // After the delete, not before: a crash in between leaves an id that readers drop.
    const userId = index.userOfField(fieldText(field));
    if (userId !== undefined) await this.#runner.run('destroy', client.srem(index.set(userId), id));
  }

  /** A save whose script asked for it keeps the user's set; a user changed takes the id out of the old one's. */
  async #reindex(id: string, before: string | undefined, reply: IndexedReply, px: number, now: number): Promise<void> {
    const index = this.#index()!;
    const field = fieldText(reply[2]);
    const after = index.userOfField(field);
    if (after !== undefined) await this.#keepSet('index', id, after, field!, px, now);
    if (before !== undefined && before !== after) await this.#runner.run('index', this.#runner.client.srem(index.set(before), id));
  }

  /**
   * Adds the id to the user's set, made to live {@link USER_SET_RENEW_MS} longer than the session
   * needs, then marks the session with it (only while it still names that user): the mark comes
   * after the set, so a crash between the two leaves no mark and the next save keeps the set again.
   */
  async #keepSet(operation: string, id: string, userId: string, field: string, px: number, now: number): Promise<void> {
    const index = this.#index()!;
    const client = this.#runner.client;
    const ttl = px + SHADOW_MARGIN_MS + USER_SET_RENEW_MS;
    await this.#runner.run(operation, client.scaleoutUserAdd(index.set(userId), id, ttl));
    await this.#runner.run(operation, client.scaleoutUserSetKept(this.#prefix + id, index.field, field, now + ttl));
  }

  /**
   * Runs the replace script (see redis-scripts.ts): `expectedSha1` empty for an unconditional
   * write. Replies {@link LATE} when the write was refused as late and may be tried once more
   * (`retried`: it was tried again already, and a second refusal throws).
   */
  async #replace(operation: string, key: string, expectedSha1: string, px: number, now: number, pairs: string[], retried = false): Promise<number | IndexedReply> {
    const index = this.#index();
    const shadow = index ? index.shadow(key) : key;
    const field = index?.field ?? '';
    const shadowPx = px + SHADOW_MARGIN_MS;
    const needed = now + shadowPx;
    const client = this.#runner.client;
    const deadline = this.#deadline();
    const sentAt = performance.now();
    const reply = await this.#runner.write<number | IndexedReply>(
      operation,
      () => client.scaleoutReplace(key, shadow, deadline, expectedSha1, px, field, shadowPx, needed, ...pairs),
      (p) => p.scaleoutReplace(key, shadow, deadline, expectedSha1, px, field, shadowPx, needed, ...pairs),
    );
    if (reply === LATE) await this.#late(operation, sentAt, retried);
    return reply;
  }
}
