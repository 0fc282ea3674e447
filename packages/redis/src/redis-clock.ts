import { debuglog } from 'node:util';
import type { RedisClient } from './redis-client.js';

const debug = debuglog('scaleout:redis');

/** A reading older than this is taken again (clock drift stays within a few ms over it). */
const REMEASURE_AFTER_MS = 60_000;
/** Kept off every deadline beside the reading's own uncertainty: drift since the reading, rounding. */
const SAFETY_MS = 10;

/**
 * Redis's clock as seen from here: Redis `TIME` read once (and again each minute, and after each
 * reconnect), then followed with the local monotonic clock. A write sent with
 * `deadline(budget)` carries the last moment, on Redis's own clock, at which Redis may still
 * apply it: the write scripts compare it with `TIME` and refuse it after that. So a write that
 * its caller gave up on (the command timed out, the request got a 503) and that was held up
 * behind other commands, or resent by ioredis after a reconnect, can never land later over a
 * newer save. Reading Redis's clock, rather than comparing this host's with it, keeps any skew
 * between the two hosts out of the deadline.
 */
export class RedisClock {
  readonly #client: RedisClient;
  /** Redis's time (ms since the epoch) minus `performance.now()`, as of the last reading. */
  #offset: number | undefined;
  /** Half the round trip of that reading: how far off the offset may be. */
  #uncertainty = 0;
  #readAt = 0;
  #reading: Promise<void> | undefined;

  constructor(client: RedisClient) {
    this.#client = client;
  }

  /** Reads Redis's clock now (once at a time); a failure leaves deadlines off until a reading succeeds. */
  measure(): Promise<void> {
    this.#reading ??= this.#read().finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #read(): Promise<void> {
    try {
      const t0 = performance.now();
      const [seconds, micros] = await this.#client.time();
      const t1 = performance.now();
      this.#offset = Number(seconds) * 1000 + Number(micros) / 1000 - (t0 + t1) / 2;
      this.#uncertainty = (t1 - t0) / 2;
      this.#readAt = t1;
    } catch (err) {
      // Deadlines stay as they were (or off): a failed reading never refuses a write.
      debug('reading the Redis clock failed: %s', (err as Error).message);
    }
  }

  /**
   * The deadline, on Redis's clock, of a write sent now that its caller waits for at most
   * `budgetMs`, or '' (no check) while Redis's clock is unknown or the budget too short to
   * leave any room after the reading's uncertainty.
   */
  deadline(budgetMs: number): string {
    const now = performance.now();
    if (now - this.#readAt > REMEASURE_AFTER_MS) void this.measure();
    if (this.#offset === undefined) return '';
    const room = budgetMs - this.#uncertainty - SAFETY_MS;
    return room > 0 ? String(Math.floor(now + this.#offset + room)) : '';
  }
}
