/** Cheap views of a dataset: another per-sample shape, or its first n samples (no copies). */
import type { Dataset } from './dataset.js';
import { DataConfigError } from './errors.js';

/** The same samples seen with another per-sample shape (e.g. [784] as [1, 28, 28]). */
export function withFeatureShape(ds: Dataset, shape: readonly number[]): Dataset {
  const have = ds.featureShape.reduce((a, d) => a * d, 1);
  const want = shape.reduce((a, d) => a * d, 1);
  if (have !== want || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new DataConfigError(`dataset '${ds.name}' has ${have} features per sample [${ds.featureShape}], which do not fit shape [${shape}]`);
  }
  return { ...ds, featureShape: [...shape] };
}

/** The first `n` samples (subarray views of the same buffers). */
export function takeFirst(ds: Dataset, n: number): Dataset {
  if (!Number.isInteger(n) || n < 1) throw new DataConfigError(`limit must be a positive integer, got ${n}`);
  if (n >= ds.size) return ds;
  const width = ds.featureShape.reduce((a, d) => a * d, 1);
  return { ...ds, size: n, features: ds.features.subarray(0, n * width), labels: ds.labels.subarray(0, n * ds.targetWidth) };
}
