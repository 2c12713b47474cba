import { describe, it, expect } from 'vitest';
import { gatherBatch } from '../../shared/data/batch.js';
import type { Dataset } from '../../shared/data/dataset.js';
import { DataError } from '../../shared/data/errors.js';

const classification: Dataset = {
  name: 'c',
  size: 4,
  featureShape: [1, 1, 3],
  numClasses: 5,
  features: Float32Array.from([0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32]),
  labels: Int32Array.from([4, 0, 3, 1]),
  targetWidth: 1,
};
const regression: Dataset = { name: 'r', size: 3, featureShape: [1], numClasses: undefined, features: Float32Array.from([1, 2, 3]), labels: Float32Array.from([0.5, 5, 1.5, 15, 2.5, 25]), targetWidth: 2 };

describe('gatherBatch', () => {
  it('copies rows in index order (repeats allowed) and gives int64 class labels', () => {
    const b = gatherBatch(classification, Uint32Array.from([2, 0, 2]));
    expect(b.count).toBe(3);
    expect(Array.from(b.x)).toEqual([20, 21, 22, 0, 1, 2, 20, 21, 22]);
    expect(b.y).toBeInstanceOf(BigInt64Array);
    expect(Array.from(b.y as BigInt64Array)).toEqual([3n, 4n, 3n]);
    // A copy, not a view: the dataset stays untouched when the batch is written.
    b.x[0] = -1;
    expect(classification.features[6]).toBe(20);
  });

  it('gives float32 targets of targetWidth for regression', () => {
    const b = gatherBatch(regression, [1, 2]);
    expect(b.y).toBeInstanceOf(Float32Array);
    expect(Array.from(b.y as Float32Array)).toEqual([1.5, 15, 2.5, 25]);
    expect(Array.from(b.x)).toEqual([2, 3]);
  });

  it('rejects an index outside the dataset', () => {
    expect(() => gatherBatch(classification, [0, 4])).toThrow(DataError);
    expect(() => gatherBatch(classification, [0, 4])).toThrow("batch index 1 is 4, outside dataset 'c' of 4 samples");
  });
});
