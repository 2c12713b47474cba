import { describe, it, expect } from 'vitest';
import { describeSample } from '../../shared/augment/augment.js';
import type { AugmentConfigInput } from '../../shared/augment/schema.js';
import { augmenterFor, bits, image } from './helpers.js';

const N = 10_000;
const SEED = 77;
const [C, H, W] = [1, 8, 8];

/**
 * Each transform alone at probability p over 10,000 samples: the share of samples whose output
 * differs from the input is within 3σ of the share expected (p, times the chance that the drawn
 * parameters are not the identity: crop at offset (padding, padding), shift by (0, 0)). And a
 * sample changes exactly when its draws say the transform applied.
 */
describe('probability p', () => {
  it.each([
    ['crop', { crop: { padding: 1, p: 0.3 } }, 0.3 * (1 - 1 / 9)],
    ['shift', { shift: { max_pixels: 2, p: 0.5 } }, 0.5 * (1 - 1 / 25)],
    ['rotate', { rotate: { max_degrees: 15, p: 0.7 } }, 0.7],
    ['flip_horizontal', { flip_horizontal: { p: 0.5 } }, 0.5],
    ['erase', { erase: { p: 0.25, area: [0.1, 0.3] } }, 0.25],
    ['noise', { noise: { std: 0.1, p: 0.1 } }, 0.1],
    ['noise at p 0', { noise: { std: 0.1, p: 0 } }, 0],
    ['flip at p 1', { flip_horizontal: { p: 1 } }, 1],
  ] as [string, AugmentConfigInput, number][])('%s: the share transformed is within 3σ of the expected share', (_, config, expected) => {
    const aug = augmenterFor(config, [C, H, W]);
    const img = image(C, H, W, 1);
    const x = new Float32Array(N * img.length);
    for (let k = 0; k < N; k++) x.set(img, k * img.length);
    aug.apply(x, Uint32Array.from({ length: N }, (_, i) => i), SEED);
    const ref = bits(img);
    let changed = 0;
    for (let k = 0; k < N; k++) {
      const out = bits(x.subarray(k * img.length, (k + 1) * img.length));
      const isChanged = out.some((b, i) => b !== ref[i]);
      if (isChanged) changed++;
      const d = describeSample(aug.plan, SEED, k);
      const applied = d.crop || d.shift || d.rotate || d.flip || d.erase || d.noise;
      // A change implies the draws applied a transform (identity crops and shifts aside, no change without one).
      if (isChanged) expect(applied).toBe(true);
    }
    const sigma = Math.sqrt((expected * (1 - expected)) / N);
    expect(Math.abs(changed / N - expected)).toBeLessThanOrEqual(3 * sigma + 1e-12);
  });
});
