/**
 * A dataset's fingerprint: SHA-256 over the exact bytes of its features, then of its labels
 * (little-endian 4-byte values, as they sit in memory and as GetData streams them). Two holders
 * of the same fingerprint gather the same batches for the same indices.
 */
import { createHash } from 'node:crypto';
import type { Dataset } from './dataset.js';

/** Lowercase hex SHA-256 of features ‖ labels. */
export function datasetFingerprint(ds: Pick<Dataset, 'features' | 'labels'>): string {
  const bytes = (a: Float32Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return createHash('sha256').update(bytes(ds.features)).update(bytes(ds.labels)).digest('hex');
}
