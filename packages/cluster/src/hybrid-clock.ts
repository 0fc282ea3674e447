/**
 * A write's version: a hybrid logical clock reading (`t` wall milliseconds, `c` counter) with the
 * writing node's id as the final tie-break. Versions order writes across nodes without needing
 * the nodes' clocks to agree: a node that has seen version v always stamps its next write
 * above v, and two concurrent writes still compare the same way everywhere.
 */
export interface Version {
  /** Wall-clock part, in ms since the epoch. */
  t: number;
  /** Logical counter that orders writes within one millisecond of `t`. */
  c: number;
  /** The writing node's id: the final tie-break. */
  n: string;
}

/** Negative, zero or positive as `a` is older than, the same as, or newer than `b`. */
export function compareVersions(a: Version, b: Version): number {
  if (a.t !== b.t) return a.t < b.t ? -1 : 1;
  if (a.c !== b.c) return a.c < b.c ? -1 : 1;
  if (a.n === b.n) return 0;
  return a.n < b.n ? -1 : 1;
}

const MAX_COUNTER = 0xffffffff;

/**
 * Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014). `now()` stamps a local
 * write; `observe()` folds in a version seen from a peer. A peer whose clock runs more than
 * `maxDriftMs` ahead does not drag this clock along (its writes still merge by version), so one
 * bad clock cannot push every node's versions into the future.
 */
export class HybridClock {
  /** The id of the node this clock stamps writes for. */
  readonly nodeId: string;
  /** How far ahead of the local wall clock a peer's reading may be and still move this clock, in ms. */
  readonly maxDriftMs: number;
  #t = 0;
  #c = 0;
  readonly #wall: () => number;

  constructor(nodeId: string, maxDriftMs = 60_000, wall: () => number = Date.now) {
    this.nodeId = nodeId;
    this.maxDriftMs = maxDriftMs;
    this.#wall = wall;
  }

  /** A new version, greater than every version this clock has stamped or observed. */
  now(): Version {
    const wall = this.#wall();
    if (wall > this.#t) {
      this.#t = wall;
      this.#c = 0;
    } else if (this.#c < MAX_COUNTER) {
      this.#c++;
    } else {
      // The counter ran out within one millisecond: borrow the next millisecond.
      this.#t++;
      this.#c = 0;
    }
    return { t: this.#t, c: this.#c, n: this.nodeId };
  }

  /** Folds in a peer's version so the next local write orders after it. */
  observe(t: number, c: number): void {
    if (t > this.#wall() + this.maxDriftMs) return;
    if (t > this.#t) {
      this.#t = t;
      this.#c = c;
    } else if (t === this.#t && c > this.#c) {
      this.#c = c;
    }
  }
}
