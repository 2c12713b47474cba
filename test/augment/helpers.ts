/** Shared fixtures for the augmentation tests: configs, deterministic images, hand-made references. */
import { augmentSchema, type AugmentConfigInput } from '../../shared/augment/schema.js';
import { Augmenter, planAugmentation, type AugmentPlan } from '../../shared/augment/augment.js';

export function planFor(config: AugmentConfigInput, featureShape: readonly number[]): AugmentPlan {
  return planAugmentation(augmentSchema.parse(config), featureShape);
}

export function augmenterFor(config: AugmentConfigInput, featureShape: readonly number[]): Augmenter {
  return new Augmenter(planFor(config, featureShape));
}

/** A C×H×W image of distinct values in (0, 1), different for every `salt` (integer hash, no Math.random). */
export function image(c: number, h: number, w: number, salt = 0): Float32Array {
  const out = new Float32Array(c * h * w);
  for (let i = 0; i < out.length; i++) {
    let v = Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(salt + 7, 0x85ebca6b);
    v = Math.imul(v ^ (v >>> 15), 0x2c1b3c6d);
    v ^= v >>> 12;
    out[i] = ((v >>> 8) + 0.5) / 0x1000000;
  }
  return out;
}

/** `count` copies of `img` side by side, as a batch. */
export function batchOf(img: Float32Array, count: number): Float32Array {
  const out = new Float32Array(img.length * count);
  for (let k = 0; k < count; k++) out.set(img, k * img.length);
  return out;
}

/** Augments one sample (a copy) and returns the result. */
export function augmentOne(aug: Augmenter, img: Float32Array, index: number, seed: number): Float32Array {
  const x = Float32Array.from(img);
  aug.apply(x, [index], seed);
  return x;
}

/** By hand: the content moved right by dx and down by dy, `fill` where it came from outside. */
export function shiftedByHand(img: Float32Array, c: number, h: number, w: number, dx: number, dy: number, fill: number): Float32Array {
  const out = new Float32Array(img.length);
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const sy = y - dy;
        const sx = x - dx;
        out[ch * h * w + y * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? img[ch * h * w + sy * w + sx]! : fill;
      }
  return out;
}

/** By hand: the image padded by `pad` pixels of `fill` on every side, then the H×W window at (ox, oy). */
export function croppedByHand(img: Float32Array, c: number, h: number, w: number, pad: number, ox: number, oy: number, fill: number): Float32Array {
  const ph = h + 2 * pad;
  const pw = w + 2 * pad;
  const padded = new Float32Array(c * ph * pw).fill(fill);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) padded[ch * ph * pw + (y + pad) * pw + (x + pad)] = img[ch * h * w + y * w + x]!;
  const out = new Float32Array(img.length);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[ch * h * w + y * w + x] = padded[ch * ph * pw + (y + oy) * pw + (x + ox)]!;
  return out;
}

/** By hand: every row reversed. */
export function flippedByHand(img: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(img.length);
  for (let r = 0; r < c * h; r++) for (let x = 0; x < w; x++) out[r * w + x] = img[r * w + (w - 1 - x)]!;
  return out;
}

/**
 * An independent rotation reference: Math.sin/Math.cos and the textbook bilinear weights
 * (1−fx)(1−fy)·v00 + fx(1−fy)·v01 + (1−fx)fy·v10 + fx·fy·v11, fill outside. Agrees with the
 * module's up to float rounding.
 */
export function rotatedByHand(img: Float32Array, c: number, h: number, w: number, degrees: number, fill: number): Float64Array {
  const t = (degrees * Math.PI) / 180;
  const cos = Math.cos(t);
  const sin = Math.sin(t);
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const at = (ch: number, y: number, x: number) => (y >= 0 && y < h && x >= 0 && x < w ? img[ch * h * w + y * w + x]! : fill);
  const out = new Float64Array(img.length);
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const sx = cx + (x - cx) * cos - (y - cy) * sin;
        const sy = cy + (x - cx) * sin + (y - cy) * cos;
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const fx = sx - x0;
        const fy = sy - y0;
        out[ch * h * w + y * w + x] = (1 - fx) * (1 - fy) * at(ch, y0, x0) + fx * (1 - fy) * at(ch, y0, x0 + 1) + (1 - fx) * fy * at(ch, y0 + 1, x0) + fx * fy * at(ch, y0 + 1, x0 + 1);
      }
  return out;
}

/** The raw bits of a float32 array, for bit-identity checks. */
export function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Every transform at once, with realistic strengths: the config the determinism and allocation tests share. */
export const EVERY_TRANSFORM: AugmentConfigInput = {
  crop: { padding: 2 },
  shift: { max_pixels: 2, p: 0.5 },
  rotate: { max_degrees: 10, p: 0.5 },
  flip_horizontal: { p: 0.5 },
  erase: { p: 0.25 },
  noise: { std: 0.05, p: 0.5 },
  clamp: [0, 1],
};
