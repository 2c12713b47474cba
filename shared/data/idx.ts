/**
 * IDX source: MNIST-style image and label files (optionally gzipped), e.g. Fashion-MNIST from
 * `apt-get install dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist/). ubyte pixels are
 * scaled to [0, 1]; other element types are taken as they are.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import type { Dataset } from './dataset.js';
import { dataPath, type DatasetSource, type LoadedData, type SourceEnv } from './source.js';
import { decodeIdx, type IdxArray } from './idx-format.js';
import { DataFormatError } from './errors.js';
import { limitField, pathField, shapeField, splitField } from './fields.js';
import { takeFirst, withFeatureShape } from './reshape.js';

export const idxConfigSchema = z
  .strictObject({
    source: z.literal('idx'),
    train_images: pathField,
    train_labels: pathField,
    test_images: pathField.optional(),
    test_labels: pathField.optional(),
    limit: limitField,
    /** Default: one flat row per image ([784] for 28×28). */
    shape: shapeField,
    split: splitField,
  })
  .refine((c) => (c.test_images === undefined) === (c.test_labels === undefined), { error: 'test_images and test_labels go together: give both or neither', path: ['test_labels'] });
export type IdxConfig = z.output<typeof idxConfigSchema>;

/** Reads one IDX file; gzip is recognised by its magic bytes, whatever the file is called. */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new DataFormatError(path, undefined, `cannot read: ${(e as Error).message}`, { cause: e });
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new DataFormatError(path, undefined, `gzip data is corrupt: ${(e as Error).message}`, { cause: e });
    }
  }
  return decodeIdx(bytes, path);
}

/** Pairs an image file with its label file as one dataset. */
export function idxDataset(name: string, images: IdxArray, labels: IdxArray, files: { images: string; labels: string }, numClasses: number): Dataset {
  if (images.dims.length < 2) throw new DataFormatError(files.images, undefined, `image file has dims [${images.dims}]; expected [count, ...sample dims]`);
  const size = images.dims[0]!;
  if (labels.dims.length > 2 || (labels.dims.length === 2 && labels.dims[1] !== 1)) throw new DataFormatError(files.labels, undefined, `label file has dims [${labels.dims}]; expected [count]`);
  if (labels.dims[0] !== size) throw new DataFormatError(files.labels, undefined, `holds ${labels.dims[0]} labels but ${files.images} holds ${size} images`);
  const width = images.dims.slice(1).reduce((a, d) => a * d, 1);
  const features = images.type === 'ubyte' ? scaleBytes(images.data as Uint8Array) : Float32Array.from(images.data);
  return { name, size, featureShape: [width], numClasses, features, labels: Int32Array.from(labels.data), targetWidth: 1 };
}

function scaleBytes(data: Uint8Array): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! / 255;
  return out;
}

function checkLabels(arr: IdxArray, file: string): number {
  if (arr.type === 'float32' || arr.type === 'float64') throw new DataFormatError(file, undefined, `labels are ${arr.type}; class labels must be an integer type`);
  let max = -1;
  for (let i = 0; i < arr.data.length; i++) {
    const v = arr.data[i]!;
    if (v < 0) throw new DataFormatError(file, undefined, `label ${i} is ${v}; class labels must be >= 0`);
    if (v > max) max = v;
  }
  return max;
}

export const idxSource: DatasetSource<IdxConfig> = {
  kind: 'idx',
  async load(config: IdxConfig, env: SourceEnv): Promise<LoadedData> {
    const at = (field: keyof IdxConfig & string, p: string) => dataPath(env, field, p);
    const trainFiles = { images: at('train_images', config.train_images), labels: at('train_labels', config.train_labels) };
    const testFiles = config.test_images && config.test_labels ? { images: at('test_images', config.test_images), labels: at('test_labels', config.test_labels) } : undefined;
    const [trI, trL, teI, teL] = await Promise.all([
      readIdxFile(trainFiles.images),
      readIdxFile(trainFiles.labels),
      testFiles ? readIdxFile(testFiles.images) : undefined,
      testFiles ? readIdxFile(testFiles.labels) : undefined,
    ]);
    // Classes are counted over both files, so a class seen only in the test set still has a logit.
    const numClasses = Math.max(checkLabels(trL, trainFiles.labels), teL ? checkLabels(teL, testFiles!.labels) : -1) + 1;
    const shape = (ds: Dataset) => (config.shape ? withFeatureShape(ds, config.shape) : ds);
    let train = shape(idxDataset('idx-train', trI, trL, trainFiles, numClasses));
    if (config.limit !== undefined) train = takeFirst(train, config.limit);
    if (!testFiles) return { train };
    if (teI!.dims.slice(1).join() !== trI.dims.slice(1).join()) throw new DataFormatError(testFiles.images, undefined, `test images are ${teI!.dims.slice(1).join('×')} per sample, training images ${trI.dims.slice(1).join('×')}`);
    return { train, test: shape(idxDataset('idx-test', teI!, teL!, testFiles, numClasses)) };
  },
};
