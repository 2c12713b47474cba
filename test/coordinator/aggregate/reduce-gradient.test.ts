/**
 * reduceGradient: the step's summed gradient gives the mean's norm and the one factor the
 * optimizer applies (1/divisor times torch's clip factor); value clipping writes the clamped mean;
 * a NaN or infinity skips the step and is named.
 */
import { describe, expect, it } from 'vitest';
import { reduceGradient } from '../../../coordinator/aggregate/index.js';
import { Arena } from '../../../shared/kernels/index.js';
import { Rng } from '../../../shared/random.js';
import * as ref from '../../kernels/reference.js';

const arena = Arena.growable();

function vector(values: number[][]) {
  const v = arena.vector(values.map((a) => a.length));
  v.setParts(values.map((a) => Float32Array.from(a)));
  return v;
}

describe('reduceGradient', () => {
  it('measures the mean over the summed normalizers without writing it, leaving weighted buffer states alone', () => {
    // sums [6, 8] over 4 samples → mean [1.5, 2], ‖·‖ = 2.5; the third tensor is a buffer state.
    const v = vector([[6], [8], [40, 80]]);
    const r = reduceGradient(v, 2, 4);
    expect(r).toEqual({ ok: true, preClipNorm: 2.5, postClipNorm: 2.5, gradScale: 0.25 });
    expect([...v.parts[0]!, ...v.parts[1]!, ...v.parts[2]!]).toEqual([6, 8, 40, 80]);
  });

  it("clips by global norm as torch does: c = maxNorm / (‖mean‖ + 1e-6), applied with the mean's 1/divisor", () => {
    const v = vector([[6, 8]]);
    const r = reduceGradient(v, 1, 4, { maxNorm: 1 });
    if (!r.ok) throw new Error('expected a step');
    const c = 1 / (2.5 + 1e-6);
    expect(r.preClipNorm).toBe(2.5);
    expect(r.gradScale).toBe(Math.fround(c / 4));
    expect(r.postClipNorm).toBe(2.5 * c);
    // What the optimizer applies is the clipped mean, to float32 rounding.
    expect(Math.fround(8 * r.gradScale)).toBeCloseTo((2 * 1) / 2.5, 6);
  });

  it('clips by value first, writing the clamped mean, then by norm', () => {
    const v = vector([[6, 8]]);
    const r = reduceGradient(v, 1, 4, { value: 1.8, maxNorm: 1 });
    if (!r.ok) throw new Error('expected a step');
    const norm = Math.sqrt(1.5 ** 2 + Math.fround(1.8) ** 2);
    expect([...v.parts[0]!]).toEqual([1.5, Math.fround(1.8)]);
    expect(r.preClipNorm).toBe(norm);
    expect(r.gradScale).toBe(Math.fround(1 / (norm + 1e-6)));
    expect(r.postClipNorm).toBeCloseTo(1, 6);
  });

  it('matches the scalar specification bit for bit on a large random gradient', () => {
    const rng = Rng.seeded(3);
    const sizes = [1001, 7, 64, 3];
    const v = arena.vector(sizes);
    v.setParts(sizes.map((n) => rng.floats(n, -5, 5)));
    const sums = v.whole.slice();
    const plain = reduceGradient(v, sizes.length, 37, { maxNorm: 0.5 });
    if (!plain.ok) throw new Error('expected a step');
    expect(plain.preClipNorm).toBe(Math.sqrt(ref.sumsq(sums)) / 37);
    const expected = ref.scaleClamp(sums, 1 / 37, 0.05);
    const clamped = reduceGradient(v, sizes.length, 37, { value: 0.05, maxNorm: 0.5 });
    if (!clamped.ok) throw new Error('expected a step');
    expect(Buffer.from(v.whole.buffer, v.whole.byteOffset, v.whole.byteLength).equals(Buffer.from(expected.buffer))).toBe(true);
    expect(clamped.preClipNorm).toBe(Math.sqrt(ref.sumsq(expected)));
    expect(clamped.gradScale).toBe(Math.fround(0.5 / (clamped.preClipNorm + 1e-6)));
  });

  it('skips a step with NaN or an infinity and names the parameter and element, even when value clipping is set', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const v = vector([[1, 2, 3], [4, 5, bad, 7]]);
      expect(reduceGradient(v, 2, 2, { value: 0.5, maxNorm: 1 })).toEqual({ ok: false, nonFinite: [{ param: 1, element: 2, value: bad }] });
    }
  });

  it('skips a step whose mean would overflow although every sum was finite', () => {
    const v = vector([[1, 3e38]]);
    expect(reduceGradient(v, 1, 1e-3)).toEqual({ ok: false, nonFinite: [{ param: 0, element: 1, value: Infinity }] });
  });

  it('refuses bad limits and divisors, naming the field', () => {
    expect(() => reduceGradient(vector([[1]]), 1, 0)).toThrow(/`divisor` must be > 0, got 0/);
    expect(() => reduceGradient(vector([[1]]), 1, 1, { maxNorm: 0 })).toThrow(/`clip.maxNorm` must be > 0, got 0/);
    expect(() => reduceGradient(vector([[1]]), 1, 1, { value: -1 })).toThrow(/`clip.value` must be > 0, got -1/);
  });
});
