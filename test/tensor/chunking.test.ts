/** Chunking a list of tensors under a byte limit and putting it back together, for each codec. */
import { describe, expect, it } from 'vitest';
import { ChunkAssembler, encodeChunks, planChunks, type EncodedChunk } from '../../shared/tensor/chunking.js';
import { codecFor } from '../../shared/tensor/codecs.js';
import { TensorFormatError, UnknownCodecError } from '../../shared/tensor/errors.js';
import { float16Bits, float16Value } from '../../shared/tensor/fp16.js';
import { Rng } from '../../shared/random.js';

const rng = Rng.seeded(99);
const tensors = [rng.floats(1000, -3, 3), new Float32Array(0), rng.floats(7, -1e-3, 1e-3), rng.floats(301, -50, 50)];
const lengths = tensors.map((t) => t.length);

function assemble(chunks: readonly EncodedChunk[]): Float32Array[] {
  const a = new ChunkAssembler(lengths);
  for (const c of chunks) a.accept(c);
  expect(a.complete).toBe(true);
  return a.result();
}

function shuffle<T>(xs: readonly T[], seed: number): T[] {
  const p = Rng.seeded(seed).permutation(xs.length);
  return [...p].map((i) => xs[i]!);
}

describe('planChunks', () => {
  it('cuts each tensor into ranges of ⌊maxBytes/bytesPerValue⌋ values, skipping empty tensors', () => {
    expect(planChunks([10, 0, 3], 17, 4)).toEqual([
      { tensor: 0, offset: 0, count: 4 },
      { tensor: 0, offset: 4, count: 4 },
      { tensor: 0, offset: 8, count: 2 },
      { tensor: 2, offset: 0, count: 3 },
    ]);
    expect(() => planChunks([10], 3, 4)).toThrow(/maxChunkBytes must be an integer ≥ 4 \(one value\), got 3/);
  });
});

describe('encodeChunks + ChunkAssembler', () => {
  for (const codec of ['none', 'fp16', 'int8'] as const) {
    it(`${codec}: every chunk fits the byte limit and the tensors come back, in any arrival order`, () => {
      const maxChunkBytes = 256;
      const chunks = encodeChunks(tensors, { codec, maxChunkBytes });
      const perChunk = maxChunkBytes / codecFor(codec).bytesPerValue;
      expect(chunks.length).toBe(lengths.reduce((a, n) => a + Math.ceil(n / perChunk), 0));
      for (const c of chunks) {
        expect(c.data.byteLength).toBeLessThanOrEqual(maxChunkBytes);
        expect(c.codec).toBe(codec);
      }
      const inOrder = assemble(chunks);
      const shuffled = assemble(shuffle(chunks, 4));
      expect(shuffled).toEqual(inOrder);
      tensors.forEach((t, k) => {
        const back = inOrder[k]!;
        expect(back.length).toBe(t.length);
        for (let i = 0; i < t.length; i++) {
          if (codec === 'none') expect(back[i]).toBe(t[i]);
          else if (codec === 'fp16') expect(back[i]).toBe(float16Value(float16Bits(t[i]!)));
        }
      });
      if (codec === 'int8') {
        // Each chunk has its own scale: error ≤ that chunk's scale/2.
        for (const c of chunks) {
          const src = tensors[c.tensor]!.subarray(c.offset, c.offset + c.count);
          const got = inOrder[c.tensor]!.subarray(c.offset, c.offset + c.count);
          for (let i = 0; i < c.count; i++) expect(Math.abs(got[i]! - src[i]!)).toBeLessThanOrEqual(c.scale / 2 + Math.abs(src[i]!) * 2 ** -24);
        }
        const scales = new Set(chunks.map((c) => c.scale));
        expect(scales.size).toBe(chunks.length);
      }
    });
  }

  it('copies values at encode time, so later changes to the arrays do not alter the chunks', () => {
    const t = [Float32Array.of(1, 2, 3)];
    const [c] = encodeChunks(t);
    t[0]![0] = 99;
    expect([...assembleOne(c!)]).toEqual([1, 2, 3]);
  });

  it('decodes chunks whose bytes sit at odd offsets of a larger buffer (as gRPC delivers them)', () => {
    for (const codec of ['none', 'fp16', 'int8'] as const) {
      const chunks = encodeChunks(tensors, { codec, maxChunkBytes: 100 });
      const moved = chunks.map((c, i) => {
        const host = Buffer.alloc(c.data.length + 4);
        c.data.copy(host, 1 + (i % 3));
        return { ...c, data: host.subarray(1 + (i % 3), 1 + (i % 3) + c.data.length) };
      });
      expect(assemble(moved)).toEqual(assemble(chunks));
    }
  });

  it('splits a tensor above gRPC’s 4 MiB limit into chunks under the default 1 MiB', () => {
    const big = [new Float32Array(1_200_000).fill(0.5)];
    const chunks = encodeChunks(big);
    expect(chunks.map((c) => c.data.byteLength)).toEqual([1 << 20, 1 << 20, 1 << 20, 1 << 20, 4_800_000 - 4 * (1 << 20)]);
    const a = new ChunkAssembler([1_200_000]);
    for (const c of chunks) a.accept(c);
    expect(a.result()[0]!.every((x) => x === 0.5)).toBe(true);
  });

  it('names what is wrong with a chunk', () => {
    const chunks = encodeChunks(tensors, { maxChunkBytes: 400 });
    const a = new ChunkAssembler(lengths);
    a.accept(chunks[0]!);
    expect(() => a.accept(chunks[0]!)).toThrow(/tensor 0: chunk \[0, 100\) overlaps \[0, 100\) already received/);
    expect(() => a.accept({ ...chunks[1]!, tensor: 9 })).toThrow(/chunk for tensor 9, but only tensors 0..3 are expected/);
    expect(() => a.accept({ ...chunks[1]!, offset: 950 })).toThrow(/tensor 0: chunk covers elements \[950, 1050\), the tensor has 1000/);
    expect(() => a.accept({ ...chunks[1]!, data: chunks[1]!.data.subarray(4) })).toThrow(/a none chunk of 100 values needs 400 bytes, got 396/);
    expect(() => a.accept({ ...chunks[1]!, codec: 'bf16' })).toThrow(UnknownCodecError);
    expect(() => a.result()).toThrow(TensorFormatError);
    expect(() => a.result()).toThrow(/tensor 0 has 100 of 1000 values/);
    expect(a.complete).toBe(false);
  });
});

function assembleOne(c: EncodedChunk): Float32Array {
  const a = new ChunkAssembler([c.count]);
  a.accept(c);
  return a.result()[0]!;
}
