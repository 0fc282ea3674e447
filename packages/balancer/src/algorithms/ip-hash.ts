import type { Endpoint } from '../endpoint.js';
import { hash32 } from '../hash.js';
import { Algorithm, sameList, type PickContext } from './algorithm.js';

/** Prime table sizes; the smallest one at least 100 × the endpoint count is used (Maglev paper, §5.3). */
const TABLE_SIZES = [65_537, 131_071, 262_147, 524_287, 1_048_573, 2_097_143];
const OFFSET_SEED = 0x2545f491;
const SKIP_SEED = 0x9e3779b9;
const KEY_SEED = 0x3c6ef372;
/** Tables kept per instance for lists seen lately, so alternating lists (a retry's filtered copy) don't rebuild each time. */
const TABLE_CACHE = 8;

/** Picks the prime table size for `n` endpoints. */
export function maglevTableSize(n: number): number {
  for (const size of TABLE_SIZES) if (size >= 100 * n) return size;
  return TABLE_SIZES[TABLE_SIZES.length - 1]!;
}

/**
 * Builds a Maglev lookup table (Eisenbud et al., NSDI 2016): each endpoint walks its own
 * permutation of the slots, (offset + k·skip) mod M with M prime, and the endpoints take turns
 * claiming their next free slot. Turns are weighted: an endpoint of half the top weight claims a
 * slot every other round. Every endpoint ends up with its share of slots within one slot.
 * `ids` must be in a stable order (sorted) so that every process builds the same table.
 */
export function buildMaglevTable(ids: readonly string[], weights: readonly number[], size = maglevTableSize(ids.length)): Int32Array {
  const n = ids.length;
  const table = new Int32Array(size).fill(-1);
  if (n === 0) return table;
  const next = new Float64Array(n);
  const skip = new Float64Array(n);
  const credit = new Float64Array(n);
  const maxWeight = Math.max(...weights);
  for (let i = 0; i < n; i++) {
    next[i] = hash32(ids[i]!, OFFSET_SEED) % size;
    skip[i] = (hash32(ids[i]!, SKIP_SEED) % (size - 1)) + 1;
  }
  let filled = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      credit[i]! += weights[i]! / maxWeight;
      if (credit[i]! < 1) continue;
      credit[i]! -= 1;
      let slot = next[i]!;
      while (table[slot] !== -1) {
        slot += skip[i]!;
        if (slot >= size) slot -= size;
      }
      table[slot] = i;
      slot += skip[i]!;
      next[i] = slot >= size ? slot - size : slot;
      if (++filled === size) return table;
    }
  }
}

/**
 * Consistent hashing of `hashKey` over a Maglev table. Balanced to within a slot, deterministic
 * from endpoint ids and weights (two proxies with the same targets agree), and a change of
 * endpoints moves about the changed share of keys. An excluded or missing key's endpoint is
 * replaced by probing the next slots, which spreads its keys over the others.
 * Without a `hashKey` the pick is uniform at random.
 */
export class IpHash extends Algorithm {
  /** The algorithm's name, as options and stats give it. */
  readonly name = 'ip-hash' as const;
  #list: readonly Endpoint[] = [];
  #sorted: Endpoint[] = [];
  #table: Int32Array = new Int32Array(0);
  readonly #tables = new Map<string, Int32Array>();

  pick(candidates: readonly Endpoint[], ctx?: PickContext): Endpoint | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    const key = ctx?.hashKey;
    const ex = this.exclusion(candidates, ctx);
    if (key === undefined) {
      if (ex === undefined) return candidates[Math.floor(this.random() * n)];
      const rest = candidates.filter((ep) => !ex.has(ep.id));
      return rest[Math.floor(this.random() * rest.length)];
    }
    if (candidates !== this.#list) this.#sync(candidates);
    const table = this.#table;
    const size = table.length;
    let slot = hash32(key, KEY_SEED) % size;
    for (let probes = 0; probes < size; probes++) {
      const ep = this.#sorted[table[slot]!]!;
      if (ex === undefined || !ex.has(ep.id)) return ep;
      if (++slot === size) slot = 0;
    }
    return undefined;
  }

  #sync(candidates: readonly Endpoint[]): void {
    const same = sameList(this.#list, candidates);
    this.#list = candidates;
    if (same) return;
    this.#sorted = [...candidates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const signature = JSON.stringify(this.#sorted.map((ep) => [ep.id, ep.weight]));
    let table = this.#tables.get(signature);
    if (table) this.#tables.delete(signature);
    else table = buildMaglevTable(this.#sorted.map((ep) => ep.id), this.#sorted.map((ep) => ep.weight));
    // most recently used last; a few lists recur (the full set, the set minus an endpoint being retried around)
    this.#tables.set(signature, table);
    if (this.#tables.size > TABLE_CACHE) this.#tables.delete(this.#tables.keys().next().value!);
    this.#table = table;
  }
}
