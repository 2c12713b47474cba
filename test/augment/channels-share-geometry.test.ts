import { describe, it, expect } from 'vitest';
import { describeSample } from '../../shared/augment/augment.js';
import { augmentOne, augmenterFor, bits, croppedByHand, flippedByHand, image, shiftedByHand } from './helpers.js';

const [C, H, W] = [3, 8, 8];
const PLANE = H * W;
const SEED = 9;
const GEOMETRY = { crop: { padding: 2 }, shift: { max_pixels: 2, p: 0.7 }, rotate: { max_degrees: 45, p: 0.7 }, flip_horizontal: { p: 0.5 }, erase: { p: 0.7, value: -1 }, fill: 0.5 };

describe('multi-channel [3, 8, 8] images', () => {
  it('transform every channel with the same geometry: identical channels stay identical, bit for bit', () => {
    const aug = augmenterFor(GEOMETRY, [C, H, W]);
    const one = image(1, H, W, 4);
    const img = new Float32Array(C * PLANE);
    for (let c = 0; c < C; c++) img.set(one, c * PLANE);
    let moved = 0;
    for (let index = 0; index < 200; index++) {
      const out = augmentOne(aug, img, index, SEED);
      const first = bits(out.subarray(0, PLANE));
      for (let c = 1; c < C; c++) expect(bits(out.subarray(c * PLANE, (c + 1) * PLANE))).toEqual(first);
      if (bits(out).some((b, i) => b !== bits(img)[i])) moved++;
    }
    expect(moved).toBeGreaterThan(190);
  });

  it('move each distinct channel as the hand-made references do (crop, shift, flip)', () => {
    const aug = augmenterFor({ crop: { padding: 1 }, shift: { max_pixels: 2, p: 1 }, flip_horizontal: { p: 0.5 }, fill: -2 }, [C, H, W]);
    for (let index = 0; index < 100; index++) {
      const d = describeSample(aug.plan, SEED, index);
      const img = image(C, H, W, index);
      let ref = croppedByHand(img, C, H, W, 1, d.cropX, d.cropY, -2);
      ref = shiftedByHand(ref, C, H, W, d.shiftX, d.shiftY, -2);
      if (d.flip) ref = flippedByHand(ref, C, H, W);
      expect(bits(augmentOne(aug, img, index, SEED))).toEqual(bits(ref));
    }
  });
});
