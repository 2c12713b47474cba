/** gatherBatch: the samples at `indices`, in that order, as one contiguous batch (one copy). */
import type { Batch, Dataset } from './dataset.js';
import { DataError } from './errors.js';

/**
 * x: count × prod(featureShape) float32, row-major; y: int64 class indices for classification,
 * count × targetWidth float32 otherwise. Each row is copied once, straight into the batch.
 */
export function gatherBatch(ds: Dataset, indices: ArrayLike<number>): Batch {
  const count = indices.length;
  const width = ds.featureShape.reduce((a, d) => a * d, 1);
  const tw = ds.targetWidth;
  const x = new Float32Array(count * width);
  const classification = ds.numClasses !== undefined;
  const y = classification ? new BigInt64Array(count * tw) : new Float32Array(count * tw);
  for (let k = 0; k < count; k++) {
    const i = indices[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= ds.size) throw new DataError(`batch index ${k} is ${i}, outside dataset '${ds.name}' of ${ds.size} samples`);
    x.set(ds.features.subarray(i * width, (i + 1) * width), k * width);
    if (classification) for (let j = 0; j < tw; j++) (y as BigInt64Array)[k * tw + j] = BigInt(ds.labels[i * tw + j]!);
    else (y as Float32Array).set(ds.labels.subarray(i * tw, (i + 1) * tw) as Float32Array, k * tw);
  }
  return { x, y, count };
}
