/**
 * The dataset section of a job file (`data:`), for the job schema:
 *
 * ```yaml
 * data: { source: digits }                       # the bundled 10,000 digits
 * data:
 *   source: idx
 *   train_images: train-images-idx3-ubyte.gz
 *   train_labels: train-labels-idx1-ubyte.gz
 *   test_images: t10k-images-idx3-ubyte.gz       # optional, with test_labels
 *   test_labels: t10k-labels-idx1-ubyte.gz
 *   split: { validation: 0.1 }                   # test defaults to the files above
 * data: { source: csv, path: iris.csv, label_column: species, split: { validation: 0.2, test: 0.2 } }
 * ```
 */
import { z } from 'zod';
import { digitsConfigSchema } from './digits.js';
import { idxConfigSchema } from './idx.js';
import { csvConfigSchema } from './csv.js';

export const datasetConfigSchema = z.discriminatedUnion('source', [digitsConfigSchema, idxConfigSchema, csvConfigSchema], {
  error: (iss) => (iss.input === undefined ? 'must name a source: digits, idx or csv' : 'must be one of the dataset sources digits, idx, csv'),
});

export type DatasetConfig = z.output<typeof datasetConfigSchema>;
export type DatasetConfigInput = z.input<typeof datasetConfigSchema>;
