/** Float32 comparison for hand-computed optimizer values, and arrays as arena vectors. */
import { expect } from 'vitest';
import type { Arena, FlatVector } from '../../../shared/kernels/index.js';

/**
 * Each value within 1e-6 relative (a few float32 ulps) of the hand-computed number: tight enough
 * that a missing bias correction, a wrong sign or a decay on the wrong param fails by orders of
 * magnitude, loose enough for float32 storage of intermediate slots.
 */
export function expectValues(actual: Float32Array, expected: readonly number[]): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => {
    const tol = 1e-6 * Math.max(Math.abs(e), 1e-3);
    if (!(Math.abs(actual[i]! - e) <= tol)) {
      throw new Error(`element ${i}: got ${actual[i]}, expected ${e} (± ${tol})`);
    }
  });
}

/** The arrays as one vector of `arena` (the layout optimizers update). */
export function vectorOf(arena: Arena, arrays: readonly Float32Array[]): FlatVector {
  const v = arena.vector(arrays.map((a) => a.length));
  v.setParts(arrays);
  return v;
}
