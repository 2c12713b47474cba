import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { Augmenter, describeSample } from '../../shared/augment/augment.js';
import { drawBits, streamKey } from '../../shared/augment/sample-random.js';
import { EVERY_TRANSFORM, augmentOne, augmenterFor, bits, image } from './helpers.js';

const SHAPE = [1, 28, 28];
const SIZE = 784;
const SEED = 42;

/** The dataset: sample i is image(…, i). */
const sample = (i: number) => image(1, 28, 28, i);

function batch(aug: Augmenter, indices: number[], seed = SEED): Float32Array {
  const x = new Float32Array(indices.length * SIZE);
  indices.forEach((i, k) => x.set(sample(i), k * SIZE));
  aug.apply(x, indices, seed);
  return x;
}

const row = (x: Float32Array, k: number) => bits(x.subarray(k * SIZE, (k + 1) * SIZE));

describe('determinism', () => {
  it('gives a sample the same bits wherever it sits in the batch, whatever else is in it, however often apply ran', () => {
    const aug = augmenterFor(EVERY_TRANSFORM, SHAPE);
    const alone3 = row(batch(aug, [3]), 0);
    const alone500 = row(batch(aug, [500]), 0);
    const a = batch(aug, [500, 17, 3, 99]);
    const b = batch(aug, [8, 3, 3, 1000, 500, 7, 2 ** 33]);
    // A fresh Augmenter (another worker), after many calls of this one (a resumed run).
    for (let i = 0; i < 20; i++) batch(aug, [i, i + 1]);
    const c = batch(augmenterFor(EVERY_TRANSFORM, SHAPE), [3, 500]);
    for (const [x, k] of [[a, 2], [b, 1], [b, 2], [c, 0]] as const) expect(row(x, k)).toEqual(alone3);
    for (const [x, k] of [[a, 0], [b, 4], [c, 1]] as const) expect(row(x, k)).toEqual(alone500);
    expect(row(batch(aug, [3]), 0)).toEqual(alone3);
  });

  it('gives a different output for another index of the same image, or another seed', () => {
    const aug = augmenterFor(EVERY_TRANSFORM, SHAPE);
    const img = sample(5);
    const base = bits(augmentOne(aug, img, 5, SEED));
    expect(bits(augmentOne(aug, img, 6, SEED))).not.toEqual(base);
    expect(bits(augmentOne(aug, img, 5, SEED + 1))).not.toEqual(base);
    // Seeds and indices beyond 32 bits count with their high word.
    expect(bits(augmentOne(aug, img, 5 + 2 ** 32, SEED))).not.toEqual(base);
    expect(bits(augmentOne(aug, img, 5, SEED + 2 ** 32))).not.toEqual(base);
    // Over many indices, the draws vary.
    const angles = new Set(Array.from({ length: 100 }, (_, i) => describeSample(aug.plan, SEED, i).degrees));
    expect(angles.size).toBe(100);
  });

  it('leaves the other transforms’ draws unchanged when one transform is turned off or retuned', () => {
    const all = augmenterFor(EVERY_TRANSFORM, SHAPE).plan;
    const { rotate: _r, shift: _s, ...rest } = EVERY_TRANSFORM;
    const fewer = augmenterFor({ ...rest, erase: { p: 0.25, value: 0.5 }, noise: { std: 0.2, p: 0.5 } }, SHAPE).plan;
    for (let i = 0; i < 200; i++) {
      const a = describeSample(all, SEED, i);
      const b = describeSample(fewer, SEED, i);
      expect([b.crop, b.cropX, b.cropY, b.flip, b.erase, b.eraseX, b.eraseY, b.eraseWidth, b.eraseHeight, b.noise, b.noiseKey]).toEqual([a.crop, a.cropX, a.cropY, a.flip, a.erase, a.eraseX, a.eraseY, a.eraseWidth, a.eraseHeight, a.noise, a.noiseKey]);
    }
  });

  it('pins the bits (a change to the streams or the arithmetic is a change of results on every machine)', () => {
    expect([streamKey(42, 0, 1), streamKey(42, 1, 1), streamKey(-1, 2 ** 40, 6), drawBits(streamKey(7, 3, 3), 5)]).toMatchInlineSnapshot(`
      [
        -723654999,
        -1607639283,
        -1623516366,
        -258852963,
      ]
    `);
    const aug = augmenterFor({ ...EVERY_TRANSFORM, rotate: { max_degrees: 30, p: 0.9 } }, SHAPE);
    const x = batch(aug, Array.from({ length: 64 }, (_, i) => i * 13));
    expect(createHash('sha256').update(x).digest('hex')).toMatchInlineSnapshot(`"56b34d93566248d3bd7115be13fe54e82f88823d60a5050288a79718b153a39a"`);
  });
});
