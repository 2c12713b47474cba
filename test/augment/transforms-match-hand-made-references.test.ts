import { describe, it, expect } from 'vitest';
import { describeSample } from '../../shared/augment/augment.js';
import { rotateBilinear } from '../../shared/augment/transforms.js';
import { sinCosDegrees } from '../../shared/augment/trig.js';
import { augmentOne, augmenterFor, bits, croppedByHand, flippedByHand, image, maxAbsDiff, rotatedByHand, shiftedByHand } from './helpers.js';

const SEED = 1234;

/** The first sample indices whose draws satisfy `want`, up to `n` of them. */
function indicesWhere(n: number, want: (index: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; out.length < n && i < 100_000; i++) if (want(i)) out.push(i);
  return out;
}

describe('crop', () => {
  it('equals the padded image sliced by hand at the drawn offset, for every offset', () => {
    const [c, h, w, pad, fill] = [1, 7, 9, 2, -0.5];
    const aug = augmenterFor({ crop: { padding: pad }, fill }, [c, h, w]);
    const seen = new Set<string>();
    for (let index = 0; index < 400; index++) {
      const d = describeSample(aug.plan, SEED, index);
      expect(d.crop).toBe(true); // p defaults to 1
      seen.add(`${d.cropX},${d.cropY}`);
      const img = image(c, h, w, index);
      expect(bits(augmentOne(aug, img, index, SEED))).toEqual(bits(croppedByHand(img, c, h, w, pad, d.cropX, d.cropY, fill)));
    }
    // All 25 offsets in [0, 4]² were drawn (and checked).
    expect(seen.size).toBe(25);
  });
});

describe('shift', () => {
  it('equals the image shifted by hand by the drawn (dx, dy), fill where it came from outside', () => {
    const [c, h, w, max, fill] = [1, 6, 8, 3, 9];
    const aug = augmenterFor({ shift: { max_pixels: max, p: 1 }, fill }, [c, h, w]);
    const seen = new Set<string>();
    for (let index = 0; index < 600; index++) {
      const d = describeSample(aug.plan, SEED, index);
      seen.add(`${d.shiftX},${d.shiftY}`);
      const img = image(c, h, w, index);
      expect(bits(augmentOne(aug, img, index, SEED))).toEqual(bits(shiftedByHand(img, c, h, w, d.shiftX, d.shiftY, fill)));
    }
    expect(seen.size).toBe(49);
  });

  it('moves the content right and down for positive dx, dy', () => {
    const aug = augmenterFor({ shift: { max_pixels: 2, p: 1 } }, [1, 5, 5]);
    const [index] = indicesWhere(1, (i) => {
      const d = describeSample(aug.plan, SEED, i);
      return d.shiftX === 2 && d.shiftY === 1;
    });
    const img = new Float32Array(25);
    img[0] = 1; // top-left pixel
    const out = augmentOne(aug, img, index!, SEED);
    expect(out[1 * 5 + 2]).toBe(1);
    expect(out.reduce((a, v) => a + v, 0)).toBe(1);
  });
});

describe('flip_horizontal', () => {
  it('equals the image with every row reversed by hand', () => {
    const [c, h, w] = [2, 5, 7];
    const aug = augmenterFor({ flip_horizontal: { p: 1 } }, [c, h, w]);
    for (let index = 0; index < 20; index++) {
      const img = image(c, h, w, index);
      expect(bits(augmentOne(aug, img, index, SEED))).toEqual(bits(flippedByHand(img, c, h, w)));
    }
  });
});

describe('rotate', () => {
  const [c, h, w] = [1, 9, 9];
  const rotate = (img: Float32Array, degrees: number, fill = 0) => {
    const sc = new Float64Array(2);
    sinCosDegrees(degrees, sc);
    const out = new Float32Array(img.length);
    rotateBilinear(img, 0, out, 0, c, h, w, sc[0]!, sc[1]!, fill);
    return out;
  };

  it('by 90° equals the transposed-and-flipped image exactly (counter-clockwise), by −90° and 180° likewise', () => {
    const img = image(c, h, w, 3);
    const at = (y: number, x: number) => img[y * w + x]!;
    const ccw = new Float32Array(img.length);
    const cw = new Float32Array(img.length);
    const half = new Float32Array(img.length);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        ccw[y * w + x] = at(x, w - 1 - y);
        cw[y * w + x] = at(h - 1 - x, y);
        half[y * w + x] = at(h - 1 - y, w - 1 - x);
      }
    expect(bits(rotate(img, 90))).toEqual(bits(ccw));
    expect(bits(rotate(img, -90))).toEqual(bits(cw));
    expect(bits(rotate(img, 180))).toEqual(bits(half));
    expect(bits(rotate(img, -180))).toEqual(bits(half));
    expect(bits(rotate(img, 0))).toEqual(bits(img));
  });

  it('keeps a constant image constant (bit for bit) wherever all four neighbours are inside', () => {
    const k = 0.3;
    const img = new Float32Array(28 * 28).fill(k);
    const sc = new Float64Array(2);
    for (const degrees of [0.5, -3, 7.25, 10, -10]) {
      sinCosDegrees(degrees, sc);
      const out = new Float32Array(img.length);
      rotateBilinear(img, 0, out, 0, 1, 28, 28, sc[0]!, sc[1]!, -1);
      let inside = 0;
      for (let y = 0; y < 28; y++)
        for (let x = 0; x < 28; x++) {
          // Within 12 pixels of the centre, a rotation by ≤ 10° samples well inside the image.
          if (Math.hypot(x - 13.5, y - 13.5) > 12) continue;
          expect(out[y * 28 + x]).toBe(Math.fround(k));
          inside++;
        }
      expect(inside).toBeGreaterThan(400);
      // The corners rotated in from outside take the fill.
      if (Math.abs(degrees) >= 7) expect(Math.min(...out)).toBeLessThan(0);
    }
  });

  it('the Augmenter rotates by the drawn angle: matches an independent Math.sin/cos bilinear reference up to float rounding', () => {
    const [ch, hh, ww, fill] = [1, 12, 10, 0.25];
    const aug = augmenterFor({ rotate: { max_degrees: 180, p: 1 }, fill }, [ch, hh, ww]);
    let large = 0;
    for (let index = 0; index < 200; index++) {
      const d = describeSample(aug.plan, SEED, index);
      expect(Math.abs(d.degrees)).toBeLessThanOrEqual(180);
      if (Math.abs(d.degrees) > 90) large++;
      const img = image(ch, hh, ww, index);
      expect(maxAbsDiff(augmentOne(aug, img, index, SEED), rotatedByHand(img, ch, hh, ww, d.degrees, fill))).toBeLessThan(2e-6);
    }
    expect(large).toBeGreaterThan(50);
  });
});

describe('erase', () => {
  it('sets exactly one rectangle to the value, with its area within the range, and leaves the rest', () => {
    const [c, h, w, value] = [1, 28, 28, -7];
    const area: [number, number] = [0.02, 0.33];
    const aug = augmenterFor({ erase: { p: 1, area, value } }, [c, h, w]);
    let erased = 0;
    const lefts = new Set<number>();
    for (let index = 0; index < 1000; index++) {
      const img = image(c, h, w, index); // values in (0, 1): none equals the value
      const out = augmentOne(aug, img, index, SEED);
      let [x0, y0, x1, y1, n, changed] = [w, h, -1, -1, 0, 0];
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const v = out[y * w + x]!;
          if (v === value) {
            n++;
            x0 = Math.min(x0, x);
            x1 = Math.max(x1, x);
            y0 = Math.min(y0, y);
            y1 = Math.max(y1, y);
          } else if (v !== img[y * w + x]) changed++;
        }
      expect(changed).toBe(0);
      if (n === 0) continue;
      erased++;
      lefts.add(x0);
      // One filled rectangle: its bounding box is all erased.
      expect(n).toBe((x1 - x0 + 1) * (y1 - y0 + 1));
      expect(n / (h * w)).toBeGreaterThanOrEqual(area[0]);
      expect(n / (h * w)).toBeLessThanOrEqual(area[1]);
      const d = describeSample(aug.plan, SEED, index);
      expect([d.eraseX, d.eraseY, d.eraseWidth, d.eraseHeight]).toEqual([x0, y0, x1 - x0 + 1, y1 - y0 + 1]);
    }
    // p = 1: an attempt fits almost always on 28×28 (10 attempts).
    expect(erased).toBeGreaterThan(990);
    expect(lefts.size).toBeGreaterThan(20);
  });
});

describe('noise', () => {
  it('has mean ≈ 0 and standard deviation ≈ std over many pixels, tails cut below 6σ', () => {
    const std = 0.05;
    const aug = augmenterFor({ noise: { std, p: 1 } }, [784]);
    const count = 256;
    const x = new Float32Array(count * 784).fill(0.5);
    aug.apply(x, Uint32Array.from({ length: count }, (_, i) => i), SEED);
    let sum = 0;
    let sq = 0;
    let beyond2 = 0;
    let max = 0;
    for (const v of x) {
      const z = (v - 0.5) / std;
      sum += z;
      sq += z * z;
      if (Math.abs(z) > 2) beyond2++;
      max = Math.max(max, Math.abs(z));
    }
    const n = x.length;
    const mean = sum / n;
    const sd = Math.sqrt(sq / n - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(n)); // 4 standard errors
    expect(Math.abs(sd - 1)).toBeLessThan(0.01);
    // P(|z| > 2) is 4.55 % for a normal (4.5 % for Irwin–Hall 12).
    expect(Math.abs(beyond2 / n - 0.0455)).toBeLessThan(0.003);
    expect(max).toBeLessThan(1530 / 256 + 1e-3);
    expect(max).toBeGreaterThan(3.5);
  });

  it('adds independent noise to every channel and pixel, and clamp bounds the result', () => {
    const flat = new Float32Array(192).fill(0.5);
    const noisy = augmentOne(augmenterFor({ noise: { std: 0.2, p: 1 } }, [3, 8, 8]), flat, 0, SEED);
    // 192 values on a grid of std/256: a few coincide, most differ (a shared draw would repeat all).
    expect(new Set(noisy).size).toBeGreaterThan(150);
    for (let ch = 1; ch < 3; ch++) expect(noisy.subarray(ch * 64, ch * 64 + 64)).not.toEqual(noisy.subarray(0, 64));
    const out = augmentOne(augmenterFor({ noise: { std: 0.5, p: 1 }, clamp: [0, 1] }, [3, 8, 8]), flat, 0, SEED);
    expect(Math.min(...out)).toBe(0);
    expect(Math.max(...out)).toBe(1);
    expect(out.filter((v) => v === 0).length).toBeGreaterThan(5);
  });
});

describe('the whole pipeline', () => {
  it('runs crop, shift, rotate, flip, erase, noise, clamp in that order', () => {
    const [c, h, w, fill] = [1, 10, 10, 0.125];
    const aug = augmenterFor({ crop: { padding: 2 }, shift: { max_pixels: 2, p: 1 }, rotate: { max_degrees: 30, p: 1 }, flip_horizontal: { p: 1 }, erase: { p: 1, value: -3 }, clamp: [0, 0.9], fill }, [c, h, w]);
    for (let index = 0; index < 50; index++) {
      const d = describeSample(aug.plan, SEED, index);
      const img = image(c, h, w, index);
      let ref: Float32Array = croppedByHand(img, c, h, w, 2, d.cropX, d.cropY, fill);
      ref = shiftedByHand(ref, c, h, w, d.shiftX, d.shiftY, fill);
      ref = Float32Array.from(rotatedByHand(ref, c, h, w, d.degrees, fill));
      ref = flippedByHand(ref, c, h, w);
      if (d.erase) for (let y = d.eraseY; y < d.eraseY + d.eraseHeight; y++) for (let x = d.eraseX; x < d.eraseX + d.eraseWidth; x++) ref[y * w + x] = -3;
      ref = ref.map((v) => Math.min(0.9, Math.max(0, v)));
      expect(maxAbsDiff(augmentOne(aug, img, index, SEED), ref)).toBeLessThan(2e-6);
    }
  });
});
