/**
 * The contract of a dataset source: a kind (the `source` field of a job's dataset section) and a
 * loader. Each source lives in a sibling file (digits.ts, idx.ts, csv.ts); registry.ts wires them.
 */
import type { Dataset } from './dataset.js';
import { confinePath, jobPathPolicy, type PathPolicy } from '../security/paths.js';

/** What a source yields: its training data and, when it ships one, its own test set. */
export interface LoadedData {
  train: Dataset;
  test?: Dataset;
}

/** Where a source runs. */
export interface SourceEnv {
  /** Relative file paths in the config resolve against this folder (the job file's). */
  baseDir: string;
  /**
   * Where the config's files may lie (shared/security/paths.ts). Default: the job's policy for
   * `baseDir` (that folder, $GRADFLEET_ALLOWED_DIRS, /usr/share/datasets). A worker passes its own.
   */
  paths?: PathPolicy;
}

/**
 * The absolute path of a file the dataset config names in `field` (`train_images`, `path`…),
 * refused (PathPolicyError, naming `data.<field>`) when it leads outside the allowed folders.
 */
export function dataPath(env: SourceEnv, field: string, p: string): string {
  return confinePath(`data.${field}`, p, env.paths ?? jobPathPolicy(env.baseDir));
}

export interface DatasetSource<C extends { source: string } = { source: string }> {
  readonly kind: C['source'];
  load(config: C, env: SourceEnv): Promise<LoadedData>;
}
