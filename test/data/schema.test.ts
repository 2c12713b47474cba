import { describe, it, expect } from 'vitest';
import { datasetConfigSchema } from '../../shared/data/schema.js';
import { knownSources, loadDataset, prepareData, registerSource } from '../../shared/data/registry.js';
import { UnknownSourceError, DataError } from '../../shared/data/errors.js';

describe('dataset config schema (the job file’s data section)', () => {
  it('defaults: digits with a 0.1 validation split, test left to the source', () => {
    expect(datasetConfigSchema.parse({ source: 'digits' })).toEqual({ source: 'digits', split: { validation: 0.1 } });
  });

  it('names the bad field and lists the sources', () => {
    const unknown = datasetConfigSchema.safeParse({ source: 'parquet' });
    expect(unknown.error!.issues[0]!.path).toEqual(['source']);
    expect(unknown.error!.issues[0]!.message).toBe('must be one of the dataset sources digits, idx, csv');
    const split = datasetConfigSchema.safeParse({ source: 'digits', split: { validation: 1.5 } });
    expect(split.error!.issues[0]!.path).toEqual(['split', 'validation']);
    expect(split.error!.issues[0]!.message).toBe('must be a fraction in (0, 1) or a whole count');
    const idx = datasetConfigSchema.safeParse({ source: 'idx', train_images: 'a', train_labels: 'b', test_images: 'c' });
    expect(idx.error!.issues[0]!.message).toBe('test_images and test_labels go together: give both or neither');
    const key = datasetConfigSchema.safeParse({ source: 'csv', path: 'a.csv', label_column: 'y', delimeter: ';' });
    expect(key.error!.issues[0]!.code).toBe('unrecognized_keys');
  });
});

describe('dataset source registry', () => {
  it('knows the built-in sources and refuses an unknown one or a second registration', async () => {
    expect(knownSources()).toEqual(['digits', 'idx', 'csv']);
    await expect(loadDataset({ source: 'parquet' }, { baseDir: '.' })).rejects.toBeInstanceOf(UnknownSourceError);
    await expect(loadDataset({ source: 'parquet' }, { baseDir: '.' })).rejects.toThrow("unknown dataset source 'parquet'; known sources: digits, idx, csv");
    expect(() => registerSource({ kind: 'digits', load: async () => ({ train: undefined as never }) })).toThrow(DataError);
  });

  it('prepareData loads and splits with the job seed when split.seed is unset', async () => {
    const config = datasetConfigSchema.parse({ source: 'digits', limit: 200, split: { validation: 0.2, test: 20 } });
    const a = await prepareData(config, { baseDir: '.' }, 42);
    const b = await prepareData(config, { baseDir: '.' }, 42);
    expect([a.train.indices.length, a.validation.indices.length, a.test.indices.length]).toEqual([140, 40, 20]);
    expect(Array.from(a.validation.indices)).toEqual(Array.from(b.validation.indices));
    const c = await prepareData({ ...config, split: { ...config.split, seed: 43 } }, { baseDir: '.' }, 42);
    expect(Array.from(c.validation.indices)).not.toEqual(Array.from(a.validation.indices));
  });
});
