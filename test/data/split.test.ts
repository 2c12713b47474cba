import { describe, it, expect } from 'vitest';
import { splitData, splitIndices } from '../../shared/data/split.js';
import type { Dataset } from '../../shared/data/dataset.js';
import { DataConfigError } from '../../shared/data/errors.js';

function expectPartition(parts: Uint32Array[], size: number): void {
  const seen = new Uint8Array(size);
  for (const p of parts) {
    for (let i = 1; i < p.length; i++) expect(p[i]!).toBeGreaterThan(p[i - 1]!);
    for (const i of p) seen[i]!++;
  }
  expect(seen.every((c) => c === 1)).toBe(true); // disjoint and covering
}

const fake = (name: string, size: number): Dataset => ({ name, size, featureShape: [1], numClasses: 2, features: new Float32Array(size), labels: new Int32Array(size), targetWidth: 1 });

describe('seeded train/validation/test split', () => {
  it('fractions give rounded counts; parts are sorted, disjoint and cover every sample', () => {
    const s = splitIndices(1000, { validation: 0.15, test: 0.1 }, 7);
    expect([s.train.length, s.validation.length, s.test.length]).toEqual([750, 150, 100]);
    expectPartition([s.train, s.validation, s.test], 1000);
    const r = splitIndices(10, { validation: 0.25, test: 0.15 }, 7); // 2.5 → 3, 1.5 → 2
    expect([r.train.length, r.validation.length, r.test.length]).toEqual([5, 3, 2]);
  });

  it('counts are taken as they are; 0 holds nothing out', () => {
    const s = splitIndices(50, { validation: 7, test: 0 }, 1);
    expect([s.train.length, s.validation.length, s.test.length]).toEqual([43, 7, 0]);
    expectPartition([s.train, s.validation, s.test], 50);
  });

  it('is a function of the seed: same seed identical, another seed different', () => {
    const a = splitIndices(500, { validation: 0.2, test: 0.2 }, 3);
    const b = splitIndices(500, { validation: 0.2, test: 0.2 }, 3);
    const c = splitIndices(500, { validation: 0.2, test: 0.2 }, 4);
    expect(Array.from(a.train)).toEqual(Array.from(b.train));
    expect(Array.from(a.validation)).toEqual(Array.from(b.validation));
    expect(Array.from(a.test)).toEqual(Array.from(b.test));
    expect(Array.from(a.test)).not.toEqual(Array.from(c.test));
  });

  it('changing the validation size never changes the test set', () => {
    const a = splitIndices(300, { validation: 0.1, test: 0.2 }, 5);
    const b = splitIndices(300, { validation: 0.3, test: 0.2 }, 5);
    expect(Array.from(a.test)).toEqual(Array.from(b.test));
  });

  it('rejects a split that leaves nothing to train on, and fractional counts', () => {
    expect(() => splitIndices(10, { validation: 5, test: 5 }, 1)).toThrow(DataConfigError);
    expect(() => splitIndices(10, { validation: 5, test: 5 }, 1)).toThrow('split holds out 5 test + 5 validation samples of 10, leaving none to train on');
    expect(() => splitIndices(10, { validation: 2.5, test: 0 }, 1)).toThrow('split.validation must be a fraction in (0, 1) or a whole count, got 2.5');
  });

  it("uses the source's own test set by default, and carves one from training data otherwise", () => {
    const withTest = splitData({ train: fake('tr', 100), test: fake('te', 30) }, { validation: 0.2, seed: 1 });
    expect(withTest.test.dataset.name).toBe('te');
    expect(withTest.test.indices.length).toBe(30);
    expect([withTest.train.indices.length, withTest.validation.indices.length]).toEqual([80, 20]);
    expectPartition([withTest.train.indices, withTest.validation.indices], 100);

    const without = splitData({ train: fake('tr', 100) }, { validation: 0.2, seed: 1 });
    expect(without.test.dataset.name).toBe('tr');
    expect([without.train.indices.length, without.validation.indices.length, without.test.indices.length]).toEqual([70, 20, 10]);
    expectPartition([without.train.indices, without.validation.indices, without.test.indices], 100);

    expect(() => splitData({ train: fake('tr', 100) }, { validation: 0.2, test: 'source', seed: 1 })).toThrow("split.test is 'source' but dataset 'tr' has no test set of its own");
  });
});
