/** Tensor lists as chunk messages and back: round trips, and rejections that name the tensor and the sizes. */
import { describe, expect, it } from 'vitest';
import { encodeTensorChunks, indicesFromBytes, indicesToBytes, TensorAssembler, type ExpectedTensor } from '../../shared/cluster/tensor-stream.js';
import { TensorStreamError } from '../../shared/cluster/errors.js';
import type { TensorChunk } from '../../shared/proto/gen/cluster.js';

const layout: ExpectedTensor[] = [
  { name: 'w', role: 'gradient of parameter', length: 1000 },
  { name: 'b', role: 'gradient of parameter', length: 10 },
  { name: 'empty', role: 'gradient of parameter', length: 0 },
  { name: 'mean', role: 'updated buffer', length: 7 },
];

function tensors(): Float32Array[] {
  return layout.map((e, k) => Float32Array.from({ length: e.length }, (_, i) => Math.sin(i + k) * (k + 1)));
}

function assemble(chunks: TensorChunk[], expected = layout): Float32Array[] {
  const a = new TensorAssembler(expected, 'result for task 0/train:0/0');
  for (const c of chunks) a.add(c);
  return a.finish();
}

describe('tensor streams', () => {
  it('round-trips float32 tensors exactly in chunks under the byte limit, carrying the count and version', () => {
    const t = tensors();
    const chunks = encodeTensorChunks(t, { chunkBytes: 256, version: 12 });
    expect(Math.max(...chunks.map((c) => c.data.length))).toBeLessThanOrEqual(256);
    expect(chunks.length).toBe(Math.ceil(1000 / 64) + 1 + 1);
    expect(chunks[0]).toMatchObject({ tensorCount: 4, version: 12 });
    const back = assemble(chunks);
    back.forEach((b, k) => expect(Buffer.from(b.buffer).equals(Buffer.from(t[k]!.buffer))).toBe(true));
  });

  it('copies values when encoding, so later changes to the arrays do not change what is sent', () => {
    const t = tensors();
    const chunks = encodeTensorChunks(t);
    const before = t[0]![3]!;
    t[0]![3] = 42;
    expect(assemble(chunks)[0]![3]).toBe(before);
  });

  it.each(['fp16', 'int8'] as const)('round-trips within the %s codec\'s error', (codec) => {
    const t = tensors();
    const back = assemble(encodeTensorChunks(t, { codec, chunkBytes: 300 }));
    back.forEach((b, k) => {
      const absmax = Math.max(...Array.from(t[k]!, Math.abs), 0);
      const bound = codec === 'fp16' ? absmax * 2 ** -11 + 2 ** -24 : absmax / 127 / 2 + 1e-7;
      for (let i = 0; i < b.length; i++) expect(Math.abs(b[i]! - t[k]![i]!)).toBeLessThanOrEqual(bound);
    });
  });

  it('tells the receiver the tensor count even when every tensor is empty', () => {
    const empty: ExpectedTensor[] = [{ name: 'a', role: 'parameter', length: 0 }];
    const chunks = encodeTensorChunks([new Float32Array(0)]);
    expect(chunks).toHaveLength(1);
    expect(assemble(chunks, empty)).toEqual([new Float32Array(0)]);
    expect(encodeTensorChunks([])).toEqual([]);
    expect(assemble([], [])).toEqual([]);
  });

  const bad: { name: string; chunks: () => TensorChunk[]; message: RegExp }[] = [
    { name: 'a tensor too short', chunks: () => encodeTensorChunks([new Float32Array(999), ...tensors().slice(1)]), message: /gradient of parameter 'w' \(tensor 0\) has 999 values, expected 1000/ },
    { name: 'a tensor too long', chunks: () => encodeTensorChunks([tensors()[0]!, new Float32Array(11), ...tensors().slice(2)]), message: /gradient of parameter 'b' \(tensor 1\) has at least 11 values, expected 10/ },
    { name: 'too few tensors', chunks: () => encodeTensorChunks(tensors().slice(0, 2)), message: /carries 2 tensors, expected 4 \(3 × gradient of parameter \+ 1 × updated buffer\)/ },
    { name: 'too many tensors', chunks: () => encodeTensorChunks([...tensors(), new Float32Array(3)]), message: /carries 5 tensors, expected 4/ },
    {
      name: 'a chunk whose bytes do not match its count',
      chunks: () => encodeTensorChunks(tensors()).map((c) => (c.tensor === 3 ? { ...c, data: c.data.subarray(0, 27) } : c)),
      message: /updated buffer 'mean' \(tensor 3\).*needs 28 bytes, got 27/,
    },
    { name: 'an unknown codec', chunks: () => encodeTensorChunks(tensors()).map((c) => (c.tensor === 1 ? { ...c, codec: 'bf7' } : c)), message: /gradient of parameter 'b' \(tensor 1\).*unknown tensor codec 'bf7'/ },
    {
      name: 'a repeated chunk',
      chunks: () => {
        const cs = encodeTensorChunks(tensors());
        return [...cs.slice(0, 2), cs[1]!, ...cs.slice(2)];
      },
      message: /gradient of parameter 'b' \(tensor 1\).*overlaps/,
    },
    { name: 'no chunks at all', chunks: () => [], message: /carries no tensors, expected 4/ },
  ];

  it.each(bad)('rejects $name, naming the tensor and the sizes', ({ chunks, message }) => {
    let err: unknown;
    try {
      assemble(chunks());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TensorStreamError);
    expect((err as Error).message).toMatch(message);
  });

  it('carries sample indices as little-endian uint32 bytes, from unaligned buffers too', () => {
    const idx = Uint32Array.from([0, 1, 70000, 2 ** 32 - 1]);
    const bytes = indicesToBytes(idx);
    const unaligned = Buffer.concat([Buffer.from([9]), bytes]).subarray(1);
    expect(Array.from(indicesFromBytes(unaligned))).toEqual(Array.from(idx));
    expect(() => indicesFromBytes(bytes.subarray(0, 5))).toThrow(/not a multiple of 4/);
  });
});
