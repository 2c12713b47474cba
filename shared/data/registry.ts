/**
 * The registry of dataset sources: a job's `data.source` names one. The built-in sources
 * (digits, idx, csv) are registered here; another source registers itself the same way.
 */
import type { DatasetSource, LoadedData, SourceEnv } from './source.js';
import { UnknownSourceError, DataError } from './errors.js';
import { digitsSource } from './digits.js';
import { idxSource } from './idx.js';
import { csvSource } from './csv.js';
import { splitData, type SplitData } from './split.js';
import type { DatasetConfig } from './schema.js';

// `any`: each source takes its own config type, which the dataset schema has already checked.
const sources = new Map<string, DatasetSource<any>>();

export function registerSource<C extends { source: string }>(source: DatasetSource<C>): void {
  if (sources.has(source.kind)) throw new DataError(`dataset source '${source.kind}' is registered twice`);
  sources.set(source.kind, source);
}

export function knownSources(): string[] {
  return [...sources.keys()];
}

export function sourceFor(kind: string): DatasetSource<{ source: string }> {
  const s = sources.get(kind);
  if (!s) throw new UnknownSourceError(kind, knownSources());
  return s;
}

/** Loads the data a (validated) dataset config names. */
export async function loadDataset(config: { source: string }, env: SourceEnv): Promise<LoadedData> {
  return sourceFor(config.source).load(config, env);
}

/** Loads and splits: the three parts a training run reads. `seed` is used when split.seed is unset. */
export async function prepareData(config: DatasetConfig, env: SourceEnv, seed: number): Promise<SplitData> {
  const data = await loadDataset(config, env);
  // A zod `.default({ source: 'digits' })` higher up hands the default over unparsed: no split.
  const split = (config.split as typeof config.split | undefined) ?? { validation: 0.1 };
  return splitData(data, { validation: split.validation, test: split.test, seed: split.seed ?? seed });
}

registerSource(digitsSource);
registerSource(idxSource);
registerSource(csvSource);
