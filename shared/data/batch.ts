/** gatherBatch: the samples at `indices`, in that order, as one contiguous batch (one copy). */
import type { Batch, Dataset } from './dataset.js';
import { DataError } from './errors.js';

/**
 * Memory a caller keeps from batch to batch: a fresh batch of a few hundred kilobytes costs more
 * to allocate (zeroed pages from the system) than to fill.
 */
export interface BatchMemory {
  x?: Float32Array;
  y?: BigInt64Array | Float32Array;
}

/**
 * x: count × prod(featureShape) float32, row-major; y: int64 class indices for classification,
 * count × targetWidth float32 otherwise. Each row is copied once, straight into the batch. With
 * `reuse`, the batch is written into that memory (grown when too small) and its arrays are views
 * of it, valid until the next batch gathered into the same memory.
 */
export function gatherBatch(ds: Dataset, indices: ArrayLike<number>, reuse?: BatchMemory): Batch {
  const count = indices.length;
  const width = ds.featureShape.reduce((a, d) => a * d, 1);
  const tw = ds.targetWidth;
  const classification = ds.numClasses !== undefined;
  let x: Float32Array;
  let y: BigInt64Array | Float32Array;
  if (reuse) {
    if ((reuse.x?.length ?? -1) < count * width) reuse.x = new Float32Array(count * width);
    if ((reuse.y?.length ?? -1) < count * tw || reuse.y instanceof BigInt64Array !== classification) reuse.y = classification ? new BigInt64Array(count * tw) : new Float32Array(count * tw);
    x = reuse.x!.subarray(0, count * width);
    y = reuse.y!.subarray(0, count * tw);
  } else {
    x = new Float32Array(count * width);
    y = classification ? new BigInt64Array(count * tw) : new Float32Array(count * tw);
  }
  // Rows are copied as bytes between Buffer views made once: a typed-array view per row costs
  // more than copying the row.
  const from = bytesOf(ds.features);
  const to = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  const rowBytes = width * 4;
  for (let k = 0; k < count; k++) {
    const i = indices[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= ds.size) throw new DataError(`batch index ${k} is ${i}, outside dataset '${ds.name}' of ${ds.size} samples`);
    from.copy(to, k * rowBytes, i * rowBytes, (i + 1) * rowBytes);
    if (classification) for (let j = 0; j < tw; j++) (y as BigInt64Array)[k * tw + j] = BigInt(ds.labels[i * tw + j]!);
    else for (let j = 0; j < tw; j++) (y as Float32Array)[k * tw + j] = ds.labels[i * tw + j]!;
  }
  return { x, y, count };
}

const byteViews = new WeakMap<Float32Array, Buffer>();

function bytesOf(a: Float32Array): Buffer {
  let b = byteViews.get(a);
  if (!b) byteViews.set(a, (b = Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
  return b;
}
