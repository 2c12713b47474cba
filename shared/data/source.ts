/**
 * The contract of a dataset source: a kind (the `source` field of a job's dataset section) and a
 * loader. Each source lives in a sibling file (digits.ts, idx.ts, csv.ts); registry.ts wires them.
 */
import type { Dataset } from './dataset.js';

/** What a source yields: its training data and, when it ships one, its own test set. */
export interface LoadedData {
  train: Dataset;
  test?: Dataset;
}

/** Where a source runs. */
export interface SourceEnv {
  /** Relative file paths in the config resolve against this folder (the job file's). */
  baseDir: string;
}

export interface DatasetSource<C extends { source: string } = { source: string }> {
  readonly kind: C['source'];
  load(config: C, env: SourceEnv): Promise<LoadedData>;
}
