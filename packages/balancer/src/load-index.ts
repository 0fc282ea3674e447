import type { Endpoint } from './endpoint.js';

/**
 * The candidates of a set ordered by load, as HAProxy's leastconn tree: an indexed binary heap
 * keyed by (inFlight + 1) / weight, updated in O(log n) when an endpoint's in-flight count changes,
 * so least-connections reads its minimum in O(1) instead of scanning every endpoint per pick.
 * Equal scores are ordered by a random key drawn at each update: idle endpoints are taken in a
 * random order and an endpoint that was just picked goes behind its equals.
 */
export class LoadIndex {
  /** The endpoints the index orders. */
  readonly list: readonly Endpoint[];
  readonly #heap: Int32Array; // heap position → list index
  readonly #at: Int32Array; // list index → heap position
  readonly #score: Float64Array;
  readonly #tie: Float64Array;
  readonly #slot = new Map<Endpoint, number>();
  readonly #random: () => number;

  constructor(list: readonly Endpoint[], random: () => number = Math.random) {
    const n = list.length;
    this.list = list;
    this.#random = random;
    this.#heap = new Int32Array(n);
    this.#at = new Int32Array(n);
    this.#score = new Float64Array(n);
    this.#tie = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const ep = list[i]!;
      this.#slot.set(ep, i);
      this.#score[i] = (ep.inFlight + 1) / ep.effectiveWeight;
      this.#tie[i] = random();
      this.#heap[i] = i;
      this.#at[i] = i;
    }
    for (let p = (n >> 1) - 1; p >= 0; p--) this.#down(p);
  }

  /** The least-loaded endpoint, or undefined for an empty list. */
  min(): Endpoint | undefined {
    return this.list.length === 0 ? undefined : this.list[this.#heap[0]!];
  }

  /** Re-keys `ep` after its load changed; ignores an endpoint not in the list. */
  update(ep: Endpoint): void {
    const i = this.#slot.get(ep);
    if (i === undefined) return;
    const before = this.#score[i]!;
    this.#score[i] = (ep.inFlight + 1) / ep.effectiveWeight;
    this.#tie[i] = this.#random();
    const p = this.#at[i]!;
    if (this.#score[i]! < before) this.#up(p);
    else this.#down(p);
  }

  #less(a: number, b: number): boolean {
    const sa = this.#score[a]!;
    const sb = this.#score[b]!;
    return sa < sb || (sa === sb && this.#tie[a]! < this.#tie[b]!);
  }

  #swap(p: number, q: number): void {
    const a = this.#heap[p]!;
    const b = this.#heap[q]!;
    this.#heap[p] = b;
    this.#heap[q] = a;
    this.#at[b] = p;
    this.#at[a] = q;
  }

  #up(p: number): void {
    while (p > 0) {
      const parent = (p - 1) >> 1;
      if (!this.#less(this.#heap[p]!, this.#heap[parent]!)) return;
      this.#swap(p, parent);
      p = parent;
    }
  }

  #down(p: number): void {
    const n = this.#heap.length;
    for (;;) {
      const l = 2 * p + 1;
      if (l >= n) return;
      const r = l + 1;
      const child = r < n && this.#less(this.#heap[r]!, this.#heap[l]!) ? r : l;
      if (!this.#less(this.#heap[child]!, this.#heap[p]!)) return;
      this.#swap(p, child);
      p = child;
    }
  }
}
