/**
 * Seeded randomness for the dataset. Every table draws from its own named stream, so adding
 * a module's rows (or changing how one table is drawn) leaves every other table unchanged.
 */

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/** FNV-1a over a string: turns (seed, stream name) into well-spread 32-bit seeds. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** sfc32: small, fast and statistically sound (passes PractRand), with a 128-bit state. */
export function randomStream(seed: number, stream: string): Random {
  let a = hash32(`${seed}:${stream}:a`);
  let b = hash32(`${seed}:${stream}:b`);
  let c = hash32(`${seed}:${stream}:c`);
  let d = 1;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // The first outputs of sfc32 still echo the seed; discard them as its author recommends.
  for (let i = 0; i < 15; i++) next();
  return next;
}

export const intBelow = (random: Random, n: number): number => Math.floor(random() * n);

export const pick = <T>(random: Random, items: readonly T[]): T => items[intBelow(random, items.length)]!;

export const chance = (random: Random, p: number): boolean => random() < p;

/** Approximately normal (sum of three uniforms): cheap, bounded tails, good enough for durations. */
export function roughNormal(random: Random, mean: number, spread: number): number {
  return mean + spread * (random() + random() + random() - 1.5) * 2;
}

/** A random permutation of 0..n-1 (Fisher-Yates), so popularity ranks are not tied to creation order. */
export function permutation(random: Random, n: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = intBelow(random, i + 1);
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  return order;
}

/**
 * Draws item indexes with Zipf-like skew: the item at rank k is chosen with weight 1/(k+1)^s,
 * so a few items take a large share and the rest form a long tail, as plays and follows do.
 * Ranks map through `order`, a permutation, so the popular items are spread over the table.
 */
export class ZipfSampler {
  private readonly cumulative: Float64Array;

  constructor(
    private readonly order: Int32Array,
    exponent: number,
  ) {
    const n = order.length;
    this.cumulative = new Float64Array(n);
    let total = 0;
    for (let k = 0; k < n; k++) {
      total += 1 / (k + 1) ** exponent;
      this.cumulative[k] = total;
    }
    for (let k = 0; k < n; k++) this.cumulative[k]! /= total;
  }

  /** The item at popularity rank `rank` (0 is the most popular). */
  atRank(rank: number): number {
    return this.order[rank]!;
  }

  sample(random: Random): number {
    const u = random();
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return this.order[lo]!;
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A UUID v7 (as the app makes) whose time part is the row's creation time and whose random
 * part comes from the seeded stream, so ids sort like the app's and repeat for a seed.
 */
export function uuidv7At(random: Random, epochMs: number): string {
  const bytes = new Uint8Array(16);
  let ms = Math.max(0, Math.floor(epochMs));
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  for (let i = 6; i < 16; i++) bytes[i] = intBelow(random, 256);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const h = Array.from(bytes, (b) => HEX[b]!);
  return `${h.slice(0, 4).join('')}-${h.slice(4, 6).join('')}-${h.slice(6, 8).join('')}-${h.slice(8, 10).join('')}-${h.slice(10).join('')}`;
}
