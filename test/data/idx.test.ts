import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { decodeIdx, encodeIdx, IDX_TYPES, type IdxArray } from '../../shared/data/idx-format.js';
import { idxSource, readIdxFile } from '../../shared/data/idx.js';
import { DataFormatError } from '../../shared/data/errors.js';
import { Rng } from '../../shared/random.js';

const dir = mkdtempSync(join(tmpdir(), 'gradfleet-idx-'));
const rng = Rng.seeded(21);
const N = 7;
const images = Uint8Array.from({ length: N * 4 * 3 }, () => rng.int(0, 255));
const labels = Uint8Array.from([3, 0, 1, 4, 1, 2, 0]);
const testImages = Uint8Array.from({ length: 2 * 12 }, (_, i) => i * 10);
const testLabels = Uint8Array.from([5, 1]);

beforeAll(() => {
  writeFileSync(join(dir, 'train-images'), encodeIdx({ type: 'ubyte', dims: [N, 4, 3], data: images }));
  writeFileSync(join(dir, 'train-labels.gz'), gzipSync(encodeIdx({ type: 'ubyte', dims: [N], data: labels })));
  writeFileSync(join(dir, 'test-images.gz'), gzipSync(encodeIdx({ type: 'ubyte', dims: [2, 4, 3], data: testImages })));
  writeFileSync(join(dir, 'test-labels'), encodeIdx({ type: 'ubyte', dims: [2], data: testLabels }));
  writeFileSync(join(dir, 'short-labels'), encodeIdx({ type: 'ubyte', dims: [N - 1], data: labels.subarray(1) }));
});

describe('IDX format', () => {
  it('round-trips every element type, multi-byte values big-endian', () => {
    const samples: Record<string, number[]> = { ubyte: [0, 7, 255], sbyte: [-128, 0, 127], int16: [-30000, 1, 30000], int32: [-2e9, 5, 2e9], float32: [-1.5, 0.25, 3], float64: [Math.PI, -1e300, 0] };
    for (const type of Object.values(IDX_TYPES)) {
      const ctor = { ubyte: Uint8Array, sbyte: Int8Array, int16: Int16Array, int32: Int32Array, float32: Float32Array, float64: Float64Array }[type];
      const arr: IdxArray = { type, dims: [3, 1], data: ctor.from(samples[type]!) };
      const bytes = encodeIdx(arr);
      const back = decodeIdx(bytes, 'mem');
      expect(back.type).toBe(type);
      expect(back.dims).toEqual([3, 1]);
      expect(Array.from(back.data)).toEqual(Array.from(arr.data));
    }
    // The header as MNIST writes it: 0, 0, type 0x08, rank 3, then dims big-endian.
    const head = encodeIdx({ type: 'ubyte', dims: [60000, 2, 3], data: new Uint8Array(60000 * 6) }).subarray(0, 16);
    expect(Array.from(head)).toEqual([0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 2, 0, 0, 0, 3]);
  });

  it('rejects a bad magic, an unknown type code and a truncated body, naming the file', () => {
    expect(() => decodeIdx(Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 1, 5]), 'a.idx')).toThrow("a.idx: not an IDX file: it starts with bytes 1, 0 instead of 0, 0");
    expect(() => decodeIdx(Uint8Array.from([0, 0, 0x0a, 1, 0, 0, 0, 1, 5]), 'b.idx')).toThrow('b.idx: not an IDX file: unknown type code 0x0a');
    expect(() => decodeIdx(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 3, 5]), 'c.idx')).toThrow('c.idx: not an IDX file: dims [3] of ubyte need 11 bytes, the file has 9');
  });
});

describe('IDX source', () => {
  it('reads plain and gzipped files (gzip by magic bytes), scaling ubyte pixels to [0, 1]', async () => {
    const plain = await readIdxFile(join(dir, 'train-images'));
    const gz = await readIdxFile(join(dir, 'train-labels.gz'));
    expect(Array.from(plain.data)).toEqual(Array.from(images));
    expect(Array.from(gz.data)).toEqual(Array.from(labels));

    const { train, test } = await idxSource.load(
      { source: 'idx', train_images: 'train-images', train_labels: 'train-labels.gz', test_images: 'test-images.gz', test_labels: 'test-labels', split: { validation: 0.1 } },
      { baseDir: dir },
    );
    expect(train.size).toBe(N);
    expect(train.featureShape).toEqual([12]);
    expect(Array.from(train.features)).toEqual(Array.from(images, (v) => Math.fround(v / 255)));
    expect(Array.from(train.labels)).toEqual(Array.from(labels));
    // Classes counted over both files: the test set's label 5 needs 6 logits.
    expect(train.numClasses).toBe(6);
    expect(test!.size).toBe(2);
    expect(test!.numClasses).toBe(6);
    expect(Array.from(test!.labels)).toEqual([5, 1]);
    expect(test!.features[1]).toBeCloseTo(10 / 255, 7);
  });

  it('applies limit and shape', async () => {
    const { train } = await idxSource.load({ source: 'idx', train_images: join(dir, 'train-images'), train_labels: join(dir, 'train-labels.gz'), limit: 3, shape: [1, 4, 3], split: { validation: 0 } }, { baseDir: '/' });
    expect(train.size).toBe(3);
    expect(train.featureShape).toEqual([1, 4, 3]);
    expect(train.features.length).toBe(36);
  });

  it('fails when the label count differs from the image count, or a file is missing', async () => {
    await expect(idxSource.load({ source: 'idx', train_images: 'train-images', train_labels: 'short-labels', split: { validation: 0 } }, { baseDir: dir })).rejects.toThrow(`short-labels: holds ${N - 1} labels but ${join(dir, 'train-images')} holds ${N} images`);
    const missing = idxSource.load({ source: 'idx', train_images: 'nope', train_labels: 'short-labels', split: { validation: 0 } }, { baseDir: dir });
    await expect(missing).rejects.toBeInstanceOf(DataFormatError);
    await expect(missing).rejects.toThrow(/nope: cannot read/);
  });
});
