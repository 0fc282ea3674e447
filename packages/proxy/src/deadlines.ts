/** An entry of a `Deadlines` list: what must happen when its time is up. */
export abstract class Expiring {
  /** When the entry expires (a `performance.now()` reading); 0 while it is not in a list. */
  expiresAt = 0;
  prevExpiring: Expiring | undefined;
  nextExpiring: Expiring | undefined;

  /** Called once, when the deadline passes before the entry was removed. */
  abstract expire(): void;
}

/**
 * Timeouts of one length for many entries (the wait for each request's response head). As every
 * entry waits equally long, entries expire in the order they were added: one doubly linked list
 * and one timer, armed for the oldest entry, serve them all, as Node's own timer lists do. An
 * entry costs a few pointer writes to add and to remove, where a timer per request allocates a
 * `Timeout`, reads the loop's clock through a binding and registers an async resource. The timer
 * is not re-armed when an entry leaves: it wakes at most once per `ms` while requests flow, finds
 * the oldest entry still in time, and sleeps until that one's deadline.
 */
export class Deadlines {
  readonly ms: number;
  #head: Expiring | undefined;
  #tail: Expiring | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #fire = () => this.#expire();

  constructor(ms: number) {
    this.ms = ms;
  }

  /**
   * Starts `entry`'s wait of `ms` from `now` (a `performance.now()` reading the caller may already
   * hold). An entry already waiting starts again.
   */
  add(entry: Expiring, now = performance.now()): void {
    if (entry.expiresAt !== 0) this.remove(entry);
    entry.expiresAt = now + this.ms;
    entry.prevExpiring = this.#tail;
    entry.nextExpiring = undefined;
    if (this.#tail) this.#tail.nextExpiring = entry;
    else this.#head = entry;
    this.#tail = entry;
    if (!this.#timer) this.#arm(this.ms);
  }

  /** Ends `entry`'s wait; nothing happens for an entry that is not waiting. */
  remove(entry: Expiring): void {
    if (entry.expiresAt === 0) return;
    entry.expiresAt = 0;
    const { prevExpiring: prev, nextExpiring: next } = entry;
    if (prev) prev.nextExpiring = next;
    else this.#head = next;
    if (next) next.prevExpiring = prev;
    else this.#tail = prev;
    entry.prevExpiring = entry.nextExpiring = undefined;
  }

  /** Stops the timer and forgets every entry (none expires). Safe to call twice. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#head) this.remove(this.#head);
  }

  #arm(delay: number): void {
    // Node's timers count whole milliseconds on the loop's clock, which can lag this one: a
    // wake-up that comes early finds the entry in time and sleeps again for the rest.
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(delay)));
    // The requests waiting hold their sockets open; the timer alone must not keep a process up.
    this.#timer.unref();
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    while (this.#head && this.#head.expiresAt <= now) {
      const entry = this.#head;
      this.remove(entry);
      entry.expire();
    }
    if (this.#head && !this.#timer) this.#arm(this.#head.expiresAt - now);
  }
}
