/** Bootstrap samples (with replacement) and their out-of-bag indices. */
import { describe, expect, it } from 'vitest';
import { bootstrapSample } from '../../../coordinator/plan/bootstrap.js';

describe('bootstrapSample', () => {
  it('draws round(fraction·n) indices in range, and OOB is exactly the indices never drawn', () => {
    const n = 1000;
    const { indices, outOfBag } = bootstrapSample(n, 1, 42, 0);
    expect(indices.length).toBe(1000);
    const times = new Uint32Array(n);
    for (const k of indices) {
      expect(k).toBeLessThan(n);
      times[k]!++;
    }
    const never = [...times.keys()].filter((k) => times[k] === 0);
    expect([...outOfBag]).toEqual(never);
    // Drawn with replacement: some index repeats, and the multiplicities add up to the sample size.
    expect(Math.max(...times)).toBeGreaterThan(1);
    expect(times.reduce((a, b) => a + b, 0)).toBe(1000);
    // The out-of-bag share of a full bootstrap is about (1 − 1/n)ⁿ ≈ 1/e ≈ 0.368.
    expect(Math.abs(outOfBag.length / n - Math.exp(-1))).toBeLessThan(0.05);
  });

  it('sizes the sample by round(fraction·n)', () => {
    expect(bootstrapSample(7, 0.5, 1, 0).indices.length).toBe(4); // round(3.5) = 4
    expect(bootstrapSample(10, 0.24, 1, 0).indices.length).toBe(2); // round(2.4) = 2
    expect(bootstrapSample(10, 2, 1, 0).indices.length).toBe(20);
  });

  it('is deterministic per (seed, member) and differs between members', () => {
    const a = bootstrapSample(200, 1, 9, 3);
    expect(bootstrapSample(200, 1, 9, 3)).toEqual(a);
    expect([...bootstrapSample(200, 1, 9, 4).indices]).not.toEqual([...a.indices]);
    expect([...bootstrapSample(200, 1, 10, 3).indices]).not.toEqual([...a.indices]);
  });

  it('rejects a fraction that gives no sample', () => {
    expect(() => bootstrapSample(10, 0.01, 1, 0)).toThrow(/`bagging.fraction` must give at least one sample/);
    expect(() => bootstrapSample(10, 0, 1, 0)).toThrow(/`bagging.fraction` must be > 0, got 0/);
  });
});
