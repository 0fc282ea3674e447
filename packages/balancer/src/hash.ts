/**
 * A fast, well-mixed 32-bit string hash: FNV-1a over UTF-16 code units, then murmur3's fmix32
 * finaliser so that keys differing only in their last characters spread over every bit.
 * Stable across processes and machines, which consistent hashing needs.
 */
export function hash32(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
