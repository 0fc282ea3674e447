import { Endpoint, type EndpointOptions } from '../src/index.js';

/** A seeded PRNG (mulberry32) so that random tie-breaks and choices give one exact order. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random source that returns the given values in turn, then repeats them. */
export function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

/** Endpoints named A, B, C… on fake hosts, with the given weights. */
export function endpoints(weights: number[], extra: Partial<EndpointOptions> = {}): Endpoint[] {
  return weights.map((weight, i) => new Endpoint({ url: `http://10.0.0.${i + 1}:8080`, id: String.fromCharCode(65 + i), weight, ...extra }));
}

/** Share of picks per endpoint id, in the order of `eps`. */
export function shares(picks: readonly Endpoint[], eps: readonly Endpoint[]): number[] {
  return eps.map((ep) => picks.filter((p) => p === ep).length / picks.length);
}
