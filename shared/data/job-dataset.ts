/**
 * From a job's `data:` section to the one sample array a training job serves, plus its
 * train/validation/test index sets. The coordinator builds it to stream it; a worker that reads
 * data locally (`workers.data: local`) builds it through this same function, so both hold the
 * same bytes when they read the same files.
 *
 *   data config ─► source ─► split ─► one dataset (training data, then the source's test set)
 */
import type { Dataset } from './dataset.js';
import type { SourceEnv } from './source.js';
import type { DatasetConfig } from './schema.js';
import type { SplitData } from './split.js';
import { prepareData } from './registry.js';
import { DataError } from './errors.js';

/** Every sample a job uses, and which of them form each part of the split. */
export interface JobData {
  /** The training data, then a separate test set when the split uses the source's own. */
  dataset: Dataset;
  trainIndices: Uint32Array;
  validationIndices: Uint32Array;
  testIndices: Uint32Array;
}

/** Loads, splits and combines the data a (validated) dataset config names. `seed` is used when split.seed is unset. */
export async function prepareJobData(config: DatasetConfig, env: SourceEnv, seed: number): Promise<JobData> {
  return onOneDataset(await prepareData(config, env, seed));
}

/**
 * Workers receive one sample array. When the source has its own test set, it is appended to the
 * training data and the test indices shifted past it.
 */
export function onOneDataset(split: SplitData): JobData {
  const train = split.train.dataset;
  const test = split.test.dataset;
  if (split.validation.dataset !== train) throw new DataError('the validation part must come from the training data');
  if (test === train) return { dataset: train, trainIndices: split.train.indices, validationIndices: split.validation.indices, testIndices: split.test.indices };
  const dataset = concatDatasets(train, test);
  return { dataset, trainIndices: split.train.indices, validationIndices: split.validation.indices, testIndices: split.test.indices.map((i) => i + train.size) };
}

function concatDatasets(a: Dataset, b: Dataset): Dataset {
  const same = a.featureShape.length === b.featureShape.length && a.featureShape.every((d, i) => d === b.featureShape[i]);
  if (!same || a.targetWidth !== b.targetWidth || a.labels.constructor !== b.labels.constructor)
    throw new DataError(`the test set '${b.name}' [${b.featureShape}] does not match the training set '${a.name}' [${a.featureShape}]`);
  const features = new Float32Array(a.features.length + b.features.length);
  features.set(a.features);
  features.set(b.features, a.features.length);
  const labels = a.labels instanceof Int32Array ? new Int32Array(a.labels.length + b.labels.length) : new Float32Array(a.labels.length + b.labels.length);
  labels.set(a.labels);
  labels.set(b.labels, a.labels.length);
  const numClasses = a.numClasses === undefined ? undefined : Math.max(a.numClasses, b.numClasses ?? 0);
  return { ...a, name: a.name, size: a.size + b.size, numClasses, features, labels };
}
