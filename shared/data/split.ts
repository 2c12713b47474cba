/**
 * Seeded train/validation/test split. Sizes are fractions (0 < f < 1, rounded to the nearest
 * sample) or counts (integers >= 1); 0 holds nothing out. One Fisher–Yates permutation of the
 * seed decides everything: the test part is taken first, then validation, so changing the
 * validation size never moves a sample into or out of the test set. Each part is sorted.
 */
import { Rng } from '../random.js';
import type { Dataset } from './dataset.js';
import type { LoadedData } from './source.js';
import { DataConfigError } from './errors.js';

export interface SplitIndices {
  train: Uint32Array;
  validation: Uint32Array;
  test: Uint32Array;
}

/** A dataset and the samples of it that form one part of the split. */
export interface Subset {
  dataset: Dataset;
  indices: Uint32Array;
}

export interface SplitData {
  train: Subset;
  validation: Subset;
  test: Subset;
}

export interface SplitSettings {
  /** Fraction or count of the training data held out for validation. */
  validation: number;
  /** Fraction or count held out for testing, or 'source' for the source's own test set. */
  test?: number | 'source';
  seed: number;
}

/** Number of samples a fraction or count stands for, out of `size`. */
export function partSize(amount: number, size: number, what: string): number {
  if (!Number.isFinite(amount) || amount < 0) throw new DataConfigError(`${what} must be a fraction in (0, 1) or a count, got ${amount}`);
  if (amount < 1) return Math.round(amount * size);
  if (!Number.isInteger(amount)) throw new DataConfigError(`${what} must be a fraction in (0, 1) or a whole count, got ${amount}`);
  return amount;
}

/** Splits 0..size-1 into sorted, disjoint train/validation/test index sets covering all of it. */
export function splitIndices(size: number, parts: { validation: number; test: number }, seed: number): SplitIndices {
  const nTest = partSize(parts.test, size, 'split.test');
  const nVal = partSize(parts.validation, size, 'split.validation');
  if (nTest + nVal >= size) throw new DataConfigError(`split holds out ${nTest} test + ${nVal} validation samples of ${size}, leaving none to train on`);
  const perm = Rng.seeded(seed).permutation(size);
  const sorted = (a: Uint32Array) => a.slice().sort();
  return { test: sorted(perm.subarray(0, nTest)), validation: sorted(perm.subarray(nTest, nTest + nVal)), train: sorted(perm.subarray(nTest + nVal)) };
}

function all(n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/**
 * Splits loaded data. With test 'source' (the default when the source ships a test set) the whole
 * test set is the test part and the training data is split into train and validation only;
 * otherwise (default 0.1) the test part is carved from the training data.
 */
export function splitData(data: LoadedData, settings: SplitSettings): SplitData {
  const test = settings.test ?? (data.test ? 'source' : 0.1);
  if (test === 'source') {
    if (!data.test) throw new DataConfigError(`split.test is 'source' but dataset '${data.train.name}' has no test set of its own; give a fraction or a count`);
    const parts = splitIndices(data.train.size, { validation: settings.validation, test: 0 }, settings.seed);
    return { train: { dataset: data.train, indices: parts.train }, validation: { dataset: data.train, indices: parts.validation }, test: { dataset: data.test, indices: all(data.test.size) } };
  }
  const parts = splitIndices(data.train.size, { validation: settings.validation, test }, settings.seed);
  return { train: { dataset: data.train, indices: parts.train }, validation: { dataset: data.train, indices: parts.validation }, test: { dataset: data.train, indices: parts.test } };
}
