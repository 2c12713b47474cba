/** Global norm, clipping and NaN/Inf detection, with numbers worked out by hand. */
import { describe, expect, it } from 'vitest';
import { clipByGlobalNorm, clipByValue, globalNorm } from '../../../coordinator/aggregate/clip.js';
import { NonFiniteGradientError } from '../../../coordinator/aggregate/errors.js';
import { findNonFinite, nonFiniteMicrobatches } from '../../../coordinator/aggregate/non-finite.js';
import { OrderedSum } from '../../../coordinator/aggregate/ordered-sum.js';
import { reduceStep } from '../../../coordinator/aggregate/reduce-step.js';

// Gradients [[3, 4], [12]]: ‖g‖ = √(9 + 16 + 144) = √169 = 13.
const grads = () => [Float32Array.of(3, 4), Float32Array.of(12)];

describe('globalNorm', () => {
  it('is the L2 norm over all params together', () => {
    expect(globalNorm(grads())).toBe(13);
    expect(globalNorm([new Float32Array(3)])).toBe(0);
  });
});

describe('clipByGlobalNorm', () => {
  it('scales by maxNorm/(‖g‖ + 1e-6) when the norm is above the limit', () => {
    const g = grads();
    const r = clipByGlobalNorm(g, 6.5);
    const scale = 6.5 / (13 + 1e-6); // ≈ 0.49999996
    expect(r.clipped).toBe(true);
    expect(r.preClipNorm).toBe(13);
    expect(r.scale).toBe(scale);
    expect([...g[0]!, ...g[1]!]).toEqual([Math.fround(3 * scale), Math.fround(4 * scale), Math.fround(12 * scale)]);
    expect([...g[0]!, ...g[1]!].map((x) => +x.toFixed(5))).toEqual([1.5, 2, 6]);
    // ‖c·g‖ = c·13 = 6.5·13/13.000001 ≈ 6.4999995, recomputed from the stored float32 values
    expect(Math.abs(r.postClipNorm - (6.5 * 13) / (13 + 1e-6))).toBeLessThan(1e-6);
    expect(r.postClipNorm).toBeLessThan(6.5);
    expect(r.postClipNorm).toBe(globalNorm(g));
  });

  it('leaves the gradients alone when the norm is within the limit', () => {
    const g = grads();
    expect(clipByGlobalNorm(g, 20)).toEqual({ preClipNorm: 13, postClipNorm: 13, scale: 1, clipped: false });
    expect([...g[0]!, ...g[1]!]).toEqual([3, 4, 12]);
  });

  it('refuses non-finite gradients and bad limits', () => {
    expect(() => clipByGlobalNorm([Float32Array.of(1, NaN)], 1)).toThrow(NonFiniteGradientError);
    expect(() => clipByGlobalNorm(grads(), 0)).toThrow(/`clip.maxNorm` must be > 0, got 0/);
  });
});

describe('clipByValue', () => {
  it('clamps each value to [−limit, limit] and counts the changes', () => {
    const g = [Float32Array.of(3, 4, -5), Float32Array.of(12, -1)];
    expect(clipByValue(g, 3.5)).toBe(3);
    expect([...g[0]!, ...g[1]!]).toEqual([3, 3.5, -3.5, 3.5, -1]);
  });
});

describe('non-finite detection', () => {
  it('names the first NaN, Inf or −Inf by param and element', () => {
    expect(findNonFinite([Float32Array.of(1, 2), Float32Array.of(3, NaN, Infinity)])).toEqual({ param: 1, element: 1, value: NaN });
    expect(findNonFinite([Float32Array.of(1, -Infinity)])).toEqual({ param: 0, element: 1, value: -Infinity });
    expect(findNonFinite([Float32Array.of(3.4e38, -3.4e38, 0)])).toBeUndefined();
  });

  it('names the micro-batches that produced non-finite values, in index order whatever the arrival', () => {
    const mbs = [[Float32Array.of(1, 2)], [Float32Array.of(0, 0)], [Float32Array.of(NaN, 1)], [Float32Array.of(1, Infinity)]];
    expect(nonFiniteMicrobatches(mbs)).toEqual([
      { microbatch: 2, param: 0, element: 0, value: NaN },
      { microbatch: 3, param: 0, element: 1, value: Infinity },
    ]);
    const sum = new OrderedSum([2], 4);
    for (const j of [3, 1, 2, 0]) sum.add(j, mbs[j]!);
    expect(sum.nonFinite()).toEqual(nonFiniteMicrobatches(mbs));
    const step = reduceStep(sum, 8, { maxNorm: 1 });
    expect(step).toEqual({ ok: false, nonFinite: nonFiniteMicrobatches(mbs) });
  });
});

describe('reduceStep', () => {
  it('means over the sample count, then clips by value, then by norm', () => {
    // Two micro-batches of 2 samples: sums [2, 8] + [4, 0] = [6, 8] → mean over 4 = [1.5, 2]
    const sum = new OrderedSum([2], 2);
    sum.add(1, [Float32Array.of(4, 0)]);
    sum.add(0, [Float32Array.of(2, 8)]);
    const plain = reduceStep(sum, 4);
    expect(plain).toMatchObject({ ok: true, preClipNorm: 2.5, postClipNorm: 2.5, scale: 1, valuesClipped: 0 });
    if (plain.ok) expect([...plain.grads[0]!]).toEqual([1.5, 2]);

    // value 1.8 → [1.5, 1.8], ‖·‖ = √(2.25 + 3.24) = √5.49 ≈ 2.343; then maxNorm 1 → scale 1/(2.343 + 1e-6)
    const clipped = reduceStep(sum, 4, { value: 1.8, maxNorm: 1 });
    if (!clipped.ok) throw new Error('expected a step');
    const norm = Math.sqrt(1.5 ** 2 + Math.fround(1.8) ** 2);
    expect(clipped.valuesClipped).toBe(1);
    expect(clipped.preClipNorm).toBeCloseTo(norm, 12);
    expect(clipped.scale).toBeCloseTo(1 / (norm + 1e-6), 12);
    expect(clipped.postClipNorm).toBeCloseTo(1, 5);
    expect(clipped.grads[0]![0]).toBeCloseTo(1.5 / norm, 6);
  });
});
