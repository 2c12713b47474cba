/** Datasets: the contract, the sources and their registry, the job-file schema, split and batching. */
export type { Dataset, Batch } from './dataset.js';
export type { DatasetSource, LoadedData, SourceEnv } from './source.js';
export { datasetConfigSchema, type DatasetConfig, type DatasetConfigInput } from './schema.js';
export { registerSource, sourceFor, knownSources, loadDataset, prepareData } from './registry.js';
export { splitIndices, splitData, type SplitData, type SplitIndices, type Subset, type SplitSettings } from './split.js';
export { gatherBatch } from './batch.js';
export { withFeatureShape, takeFirst } from './reshape.js';
export { loadDigits } from './digits.js';
export { DataError, DataFormatError, DataConfigError, UnknownSourceError } from './errors.js';
