/** Budget counters over the sliding window, as `stats()` shows them. */
export interface RetryBudgetStats {
  /** Requests deposited in the window. */
  requests: number;
  /** Retries and hedges withdrawn in the window. */
  retries: number;
  /** Retries still allowed right now. */
  available: number;
  /** Retries refused since the start. */
  refused: number;
}

const SLOTS = 10;

/**
 * Finagle's retry budget: over a sliding window, retries (and hedges) may add at most `ratio` of
 * the requests plus a floor of `minPerSecond` per second, so a storm of failures cannot multiply
 * the load on a backend that is already struggling. Ten time slots make the window slide smoothly.
 */
export class RetryBudget {
  /** Share of the requests that retries may add. */
  readonly ratio: number;
  /** Retries allowed per second whatever the ratio. */
  readonly minPerSecond: number;
  /** The sliding window, in ms. */
  readonly windowMs: number;
  readonly #slotMs: number;
  readonly #requests = new Float64Array(SLOTS);
  readonly #retries = new Float64Array(SLOTS);
  #slot = 0; // absolute slot number of the newest slot
  #requestSum = 0;
  #retrySum = 0;
  #refused = 0;
  readonly #now: () => number;

  constructor(ratio: number, minPerSecond: number, windowMs: number, now: () => number = Date.now) {
    this.ratio = ratio;
    this.minPerSecond = minPerSecond;
    this.windowMs = windowMs;
    this.#slotMs = Math.max(1, windowMs / SLOTS);
    this.#now = now;
    this.#slot = Math.floor(now() / this.#slotMs);
  }

  /** Counts one request (call it once per `fetch()`, not per try). */
  deposit(): void {
    this.#roll();
    this.#requests[this.#slot % SLOTS]!++;
    this.#requestSum++;
  }

  /** Takes one retry from the budget, or returns false (and counts the refusal) when it is spent. */
  tryWithdraw(): boolean {
    this.#roll();
    if (this.#retrySum + 1 > this.#allowed()) {
      this.#refused++;
      return false;
    }
    this.#retries[this.#slot % SLOTS]!++;
    this.#retrySum++;
    return true;
  }

  /** The budget's counters over the window. */
  stats(): RetryBudgetStats {
    this.#roll();
    return {
      requests: this.#requestSum,
      retries: this.#retrySum,
      available: Math.max(0, Math.floor(this.#allowed() - this.#retrySum)),
      refused: this.#refused,
    };
  }

  #allowed(): number {
    return this.ratio * this.#requestSum + (this.minPerSecond * this.windowMs) / 1000;
  }

  /** Clears the slots that fell out of the window since the last call. */
  #roll(): void {
    const slot = Math.floor(this.#now() / this.#slotMs);
    if (slot === this.#slot) return;
    const stale = Math.min(SLOTS, slot - this.#slot);
    for (let k = 1; k <= stale; k++) {
      const i = (this.#slot + k) % SLOTS;
      this.#requestSum -= this.#requests[i]!;
      this.#retrySum -= this.#retries[i]!;
      this.#requests[i] = 0;
      this.#retries[i] = 0;
    }
    this.#slot = slot;
  }
}

/** Exponential backoff with full jitter (as Envoy's retry back-off): uniform in [0, min(cap, base·2^(n-1))). */
export function backoffDelay(retry: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}
