/**
 * The raw values recent reads returned, by session id, bounded by total size: what a following
 * compare-and-set compares against, so that a save needs no second read. Oldest go first.
 */
export class RecentValues {
  readonly #values = new Map<string, string | Buffer>();
  readonly #maxBytes: number;
  readonly #maxValue: number;
  #bytes = 0;

  /** Holds at most `maxBytes` in all, and no single value larger than `maxValue`. */
  constructor(maxBytes = 4 * 1024 * 1024, maxValue = 64 * 1024) {
    this.#maxBytes = maxBytes;
    this.#maxValue = maxValue;
  }

  remember(id: string, raw: string | Buffer): void {
    this.take(id);
    if (raw.length > this.#maxValue) return;
    this.#values.set(id, raw);
    this.#bytes += raw.length;
    for (const [oldest, value] of this.#values) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#values.delete(oldest);
      this.#bytes -= value.length;
    }
  }

  /** The value remembered for `id`, forgotten as it is handed out (a value serves one save). */
  take(id: string): string | Buffer | undefined {
    const raw = this.#values.get(id);
    if (raw !== undefined) {
      this.#values.delete(id);
      this.#bytes -= raw.length;
    }
    return raw;
  }

  clear(): void {
    this.#values.clear();
    this.#bytes = 0;
  }

  /** Bytes held (string lengths for text). */
  get bytes(): number {
    return this.#bytes;
  }
}
