/**
 * Per-sample random streams for augmentation: counter-based, integer-only, so that a sample's
 * draws depend only on (seed, sample index, transform) and are the same bits on every machine
 * and JS engine (the same construction as shared/engine/dropout-masks.ts).
 *
 * - A stream's key is MurmurHash3 (x86, 32-bit) of the words (seed low 32 bits, seed high bits,
 *   sample index low 32 bits, index high bits, transform tag).
 * - Draw n (n = 0, 1, 2, ...) of a stream is murmur3's 32-bit finalizer of key + (n+1)·0x9e3779b9
 *   (a Weyl sequence, splitmix32's construction): random access, no state, no allocation.
 * - A uniform in [0, 1) is the draw's top 24 bits · 2⁻²⁴, exact in float32 and float64.
 *
 * Every transform has its own tag, so turning one transform on or off, or changing its
 * parameters, never changes what another transform draws.
 */

/** Stream tags, one per transform (values are part of the format: changing one changes results). */
export const TAG = { crop: 1, shift: 2, rotate: 3, flip: 4, erase: 5, noise: 6 } as const;
export type TransformTag = (typeof TAG)[keyof typeof TAG];

/** The Weyl increment between consecutive draws of a stream (2³²/φ). */
export const GOLDEN = 0x9e3779b9 | 0;
const TWO_POW_32 = 0x100000000;
const TWO_POW_M24 = 1 / 0x1000000;

/** murmur3's 32-bit finalizer (full avalanche); int32 in, int32 out. */
export function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** One word into a MurmurHash3 x86_32 state. */
function absorb(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * The key of the stream of transform `tag` for dataset sample `index` under `seed`: MurmurHash3
 * x86_32 (seed 0) of five words. Seeds and indices are taken as integers of up to 53 bits (both
 * halves count); negative seeds wrap as two's complement words.
 */
export function streamKey(seed: number, index: number, tag: number): number {
  let h = 0;
  h = absorb(h, seed >>> 0);
  h = absorb(h, Math.floor(seed / TWO_POW_32) >>> 0);
  h = absorb(h, index >>> 0);
  h = absorb(h, Math.floor(index / TWO_POW_32) >>> 0);
  h = absorb(h, tag >>> 0);
  h ^= 20; // the length in bytes, as MurmurHash3 does
  return fmix32(h);
}

/** Draw n of the stream `key`, a 32-bit integer (int32). */
export function drawBits(key: number, n: number): number {
  return fmix32((key + Math.imul(n + 1, GOLDEN)) | 0);
}

/** Draw n of the stream `key` as a uniform in [0, 1) with 24 random bits. */
export function drawUniform(key: number, n: number): number {
  return (drawBits(key, n) >>> 8) * TWO_POW_M24;
}

/** Draw n of the stream `key` as an integer uniform in [lo, hi] (bias below 2⁻²⁴·(hi−lo+1)). */
export function drawInt(key: number, n: number, lo: number, hi: number): number {
  return lo + Math.floor(drawUniform(key, n) * (hi - lo + 1));
}
