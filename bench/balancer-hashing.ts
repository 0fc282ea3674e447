/**
 * Consistent hashing compared in one run: the balancer's Maglev table (`ip-hash`) against a plain
 * hash ring (160 points per endpoint, as nginx's `hash … consistent` / ketama) and jump hash
 * (Lamping & Veach), on 100,000 keys over 10 endpoints: balance (max / average load), keys moved
 * when an 11th endpoint joins and when one in the middle leaves, and lookup cost.
 *
 * `npm run bench -- balancer-hashing` or `node --conditions=@scaleout/source --import tsx bench/balancer-hashing.ts`.
 */
import { pathToFileURL } from 'node:url';
import { Endpoint, hash32, IpHash } from '@scaleout/balancer';
import { fmt, markdownTable } from './support/table.js';

const KEYS = Array.from({ length: 100_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
const RING_POINTS = 160;

/** A mapping from key to endpoint id for a given list of ids. */
type Scheme = (ids: readonly string[]) => (key: string) => string;

const maglev: Scheme = (ids) => {
  const eps = ids.map((id, i) => new Endpoint({ id, url: `http://10.1.${i >> 8}.${i & 255}:80` }));
  const algo = new IpHash();
  return (key) => algo.pick(eps, { hashKey: key })!.id;
};

const ring: Scheme = (ids) => {
  const points: Array<[number, string]> = [];
  for (const id of ids) for (let i = 0; i < RING_POINTS; i++) points.push([hash32(`${id}#${i}`), id]);
  points.sort((a, b) => a[0] - b[0]);
  const hashes = Uint32Array.from(points, (p) => p[0]);
  const owners = points.map((p) => p[1]);
  return (key) => {
    const h = hash32(key);
    let lo = 0;
    let hi = hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (hashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return owners[lo === hashes.length ? 0 : lo]!;
  };
};

/** Jump consistent hash: needs buckets numbered 0..n-1, so a removal renumbers the ones after it. */
const jump: Scheme = (ids) => (key) => {
  let k = BigInt(hash32(key)) | (BigInt(hash32(key, 0x9e3779b9)) << 32n);
  let b = -1n;
  let j = 0n;
  const n = BigInt(ids.length);
  while (j < n) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & 0xffffffffffffffffn;
    j = BigInt(Math.floor(((Number(b) + 1) * 2 ** 31) / (Number(k >> 33n) + 1)));
  }
  return ids[Number(b)]!;
};

interface HashResult {
  name: string;
  maxOverAvg: number;
  movedOnAdd: number;
  movedOnRemove: number;
  lookupNs: number;
}

function measure(name: string, scheme: Scheme): HashResult {
  const ten = Array.from({ length: 10 }, (_, i) => `node-${i}`);
  const lookup = scheme(ten);
  const base = KEYS.map(lookup);
  const counts = new Map<string, number>();
  for (const id of base) counts.set(id, (counts.get(id) ?? 0) + 1);
  const added = KEYS.map(scheme([...ten, 'node-10']));
  const removed = KEYS.map(scheme(ten.filter((id) => id !== 'node-4')));
  const moved = (after: string[]) => after.filter((id, i) => id !== base[i]).length / KEYS.length;
  const rounds = 3;
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (const key of KEYS) lookup(key);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / KEYS.length);
  }
  return { name, maxOverAvg: Math.max(...counts.values()) / (KEYS.length / 10), movedOnAdd: moved(added), movedOnRemove: moved(removed), lookupNs: best };
}

export function runHashing(): HashResult[] {
  return [measure('Maglev (ip-hash, table 65,537)', maglev), measure(`ring, ${RING_POINTS} points per endpoint`, ring), measure('jump hash', jump)];
}

export async function run(): Promise<string> {
  const rows = runHashing().map((r) => [
    r.name,
    r.maxOverAvg.toFixed(3),
    `${(r.movedOnAdd * 100).toFixed(2)}%`,
    `${(r.movedOnRemove * 100).toFixed(2)}%`,
    fmt(r.lookupNs, 0),
  ]);
  return [
    '### Consistent hashing: balance and key movement',
    '',
    '100,000 keys (IPv4 strings), 10 endpoints. Ideal: max/avg 1.000; adding an 11th moves 1/11 = 9.09% of keys; removing one moves its own 10%.',
    '',
    markdownTable(['scheme', 'max / avg load', 'moved when an 11th joins', 'moved when one leaves', 'lookup ns'], rows),
    '',
    'Jump hash needs its buckets numbered 0..n-1, so removing any endpoint but the last renumbers the others and moves most keys; its lookup here uses BigInt and is not representative of a native implementation. Lookup times include hashing the key string.',
    '',
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.stdout.write(`${await run()}\n`);
