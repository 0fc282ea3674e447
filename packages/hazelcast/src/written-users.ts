/**
 * The entries of the companion map (session id → user id) that this process wrote, and until
 * when each lives (ms since the epoch): a patch that leaves the user as it was, with a lifetime
 * the entry still covers, leaves the entry alone. Bounded, the oldest forgotten first; a
 * forgotten entry costs one write at its session's next save, nothing more.
 */
export class WrittenUsers {
  readonly #entries = new Map<string, { userId: string; until: number }>();
  readonly #max: number;

  constructor(max = 100_000) {
    this.#max = max;
  }

  /** Whether this process wrote `userId` for `id`, living until `until` at least. */
  covers(id: string, userId: string, until: number): boolean {
    const e = this.#entries.get(id);
    return e !== undefined && e.userId === userId && e.until >= until;
  }

  remember(id: string, userId: string, until: number): void {
    this.#entries.delete(id);
    this.#entries.set(id, { userId, until });
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** A touch moved the entry's expiry to `until`. */
  extend(id: string, until: number): void {
    const e = this.#entries.get(id);
    if (e) e.until = until;
  }

  forget(id: string): void {
    this.#entries.delete(id);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
