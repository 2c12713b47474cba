/**
 * The transforms, as plain loops over one C×H×W float32 image at an offset in a larger array (a
 * sample inside a batch): no closures, no views, no allocation. The geometric ones map output
 * pixel (y, x) to a source position computed once per pixel and used for every channel, so all
 * channels move together. Pixels whose source lies outside the image take `fill`.
 *
 * Floating point: only + − × ÷, Math.floor and Math.min/max in float64, each result stored once as float32, so
 * every engine writes the same bits (no fused multiply-add exists in JS).
 */
import { GOLDEN, fmix32 } from './sample-random.js';

const GOLDEN2 = (2 * GOLDEN) | 0;
const GOLDEN3 = (3 * GOLDEN) | 0;

/**
 * dst(c, y, x) = src(c, y + ty, x + tx), or `fill` where that lies outside the H×W image: an
 * integer translation by (−tx, −ty). A crop at offset (ox, oy) of the image padded by p is
 * tx = ox − p, ty = oy − p; a shift that moves the content by (dx, dy) is tx = −dx, ty = −dy.
 * `dst` must not overlap `src`.
 */
export function translate(src: Float32Array, so: number, dst: Float32Array, dOff: number, c: number, h: number, w: number, ty: number, tx: number, fill: number): void {
  const plane = h * w;
  const x0 = Math.min(w, Math.max(0, -tx));
  const x1 = Math.max(x0, Math.min(w, w - tx));
  const y0 = Math.min(h, Math.max(0, -ty));
  const y1 = Math.max(y0, Math.min(h, h - ty));
  for (let ch = 0; ch < c; ch++) {
    const sp = so + ch * plane;
    const dp = dOff + ch * plane;
    for (let y = 0; y < h; y++) {
      const row = dp + y * w;
      if (y < y0 || y >= y1) {
        for (let x = 0; x < w; x++) dst[row + x] = fill;
        continue;
      }
      const from = sp + (y + ty) * w + tx;
      for (let x = 0; x < x0; x++) dst[row + x] = fill;
      for (let x = x0; x < x1; x++) dst[row + x] = src[from + x]!;
      for (let x = x1; x < w; x++) dst[row + x] = fill;
    }
  }
}

/**
 * Rotation about the image centre ((W−1)/2, (H−1)/2) by the angle whose sine and cosine are given;
 * a positive angle turns the content counter-clockwise as displayed (rows top to bottom). Output
 * pixel (y, x) samples the source at (in this order of operations)
 *   sx = (cx − (y−cy)·sin) + (x−cx)·cos,  sy = (cy + (y−cy)·cos) + (x−cx)·sin
 * bilinearly, over the image extended by `fill` outside: with x₀ = ⌊sx⌋, fx = sx − x₀ (and y the
 * same), top = v₀₀ + (v₀₁ − v₀₀)·fx, bottom = v₁₀ + (v₁₁ − v₁₀)·fx, value = top + (bottom − top)·fy.
 * This form is exact where the four neighbours are equal (a constant region stays constant) and
 * where a source coordinate is an integer (rotations by multiples of 90° move pixels exactly).
 * `dst` must not overlap `src`.
 */
export function rotateBilinear(src: Float32Array, so: number, dst: Float32Array, dOff: number, c: number, h: number, w: number, sin: number, cos: number, fill: number): void {
  const plane = h * w;
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  for (let y = 0; y < h; y++) {
    const dy = y - cy;
    const rowX = cx - dy * sin;
    const rowY = cy + dy * cos;
    for (let x = 0; x < w; x++) {
      const dx = x - cx;
      const sx = rowX + dx * cos;
      const sy = rowY + dx * sin;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const out = dOff + y * w + x;
      if (x0 < -1 || x0 >= w || y0 < -1 || y0 >= h) {
        for (let ch = 0; ch < c; ch++) dst[out + ch * plane] = fill;
        continue;
      }
      const fx = sx - x0;
      const fy = sy - y0;
      const i00 = so + y0 * w + x0;
      if (x0 >= 0 && x0 + 1 < w && y0 >= 0 && y0 + 1 < h) {
        for (let ch = 0; ch < c; ch++) {
          const p = i00 + ch * plane;
          const v00 = src[p]!;
          const v01 = src[p + 1]!;
          const v10 = src[p + w]!;
          const v11 = src[p + w + 1]!;
          const top = v00 + (v01 - v00) * fx;
          const bottom = v10 + (v11 - v10) * fx;
          dst[out + ch * plane] = top + (bottom - top) * fy;
        }
        continue;
      }
      // On the border: neighbours outside the image read as fill.
      const inX0 = x0 >= 0;
      const inX1 = x0 + 1 < w;
      const inY0 = y0 >= 0;
      const inY1 = y0 + 1 < h;
      for (let ch = 0; ch < c; ch++) {
        const p = i00 + ch * plane;
        const v00 = inY0 && inX0 ? src[p]! : fill;
        const v01 = inY0 && inX1 ? src[p + 1]! : fill;
        const v10 = inY1 && inX0 ? src[p + w]! : fill;
        const v11 = inY1 && inX1 ? src[p + w + 1]! : fill;
        const top = v00 + (v01 - v00) * fx;
        const bottom = v10 + (v11 - v10) * fx;
        dst[out + ch * plane] = top + (bottom - top) * fy;
      }
    }
  }
}

/** Mirrors every row in place (x ↦ W−1−x), every channel. */
export function flipHorizontal(buf: Float32Array, o: number, c: number, h: number, w: number): void {
  const rows = c * h;
  for (let r = 0; r < rows; r++) {
    let a = o + r * w;
    let b = a + w - 1;
    while (a < b) {
      const t = buf[a]!;
      buf[a] = buf[b]!;
      buf[b] = t;
      a++;
      b--;
    }
  }
}

/** Sets rows [ey, ey+eh) × columns [ex, ex+ew) of every channel to `value`, in place. */
export function eraseRect(buf: Float32Array, o: number, c: number, h: number, w: number, ex: number, ey: number, ew: number, eh: number, value: number): void {
  const plane = h * w;
  for (let ch = 0; ch < c; ch++) {
    for (let y = ey; y < ey + eh; y++) {
      const row = o + ch * plane + y * w;
      for (let x = ex; x < ex + ew; x++) buf[row + x] = value;
    }
  }
}

/**
 * The variance of one noise value z before scaling: 1 − 2⁻¹⁶ (12 uniforms on a 256-point grid).
 * Scale = std / √(1 − 2⁻¹⁶) makes the added noise's standard deviation exactly std.
 */
export const NOISE_VARIANCE = 1 - 1 / 65536;

/**
 * Adds scale·z to each of the n values at o, in place, z approximately standard normal:
 * Irwin–Hall with 12 terms, z = Σ₁¹² uᵢ − 6 with uᵢ = (bᵢ + ½)/256 for 12 random bytes bᵢ (three
 * 32-bit draws per value: draws 3e+1, 3e+2, 3e+3 of stream `key` for value e; draw 0 is the
 * transform's decision). Mean 0, variance 1 − 2⁻¹⁶, excess kurtosis −0.1, and the tails cut at
 * |z| ≤ 1530/256 ≈ 5.98 (a true normal passes 5.98σ with probability 2·10⁻⁹); z lies on a grid
 * of step 1/256. Integer additions, then one exact scaling by 1/256: identical on every engine.
 */
export function addNoise(buf: Float32Array, o: number, n: number, key: number, scale: number): void {
  let s = (key + GOLDEN) | 0; // the position of draw 0
  for (let e = o, end = o + n; e < end; e++) {
    let a = fmix32((s + GOLDEN) | 0);
    let b = fmix32((s + GOLDEN2) | 0);
    let c = fmix32((s + GOLDEN3) | 0);
    s = (s + GOLDEN3) | 0;
    // Each word's four bytes added pairwise (SWAR) into two 16-bit lanes (≤ 510 each), the three
    // words' lanes added (≤ 1530, no carry between lanes), then the two lanes.
    a = (a & 0x00ff00ff) + ((a >>> 8) & 0x00ff00ff);
    b = (b & 0x00ff00ff) + ((b >>> 8) & 0x00ff00ff);
    c = (c & 0x00ff00ff) + ((c >>> 8) & 0x00ff00ff);
    const lanes = a + b + c;
    const sum = (lanes & 0xffff) + (lanes >>> 16);
    buf[e] = buf[e]! + scale * ((sum - 1530) * (1 / 256));
  }
}

/**
 * Clamps the n values at o to [lo, hi], in place (NaN stays NaN). Math.min/Math.max rather than
 * branches: after noise, about half the background pixels fall below 0, and a mispredicted
 * branch per pixel cost more than the rest of the pipeline.
 */
export function clampRange(buf: Float32Array, o: number, n: number, lo: number, hi: number): void {
  for (let e = o, end = o + n; e < end; e++) buf[e] = Math.min(hi, Math.max(lo, buf[e]!));
}
