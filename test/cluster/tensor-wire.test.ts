/**
 * The hand-written encoding of TensorChunk and ResultChunk (shared/cluster/tensor-wire.ts) writes
 * exactly ts-proto's bytes and reads what ts-proto writes, field for field, including fields it
 * does not know; `data` is read as a view, not a copy.
 */
import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { ResultChunk, ResultHeader, TensorChunk, TaskKind } from '../../shared/proto/gen/cluster.js';
import { decodeResultChunk, decodeTensorChunk, encodeResultChunk, encodeTensorChunk } from '../../shared/cluster/tensor-wire.js';
import { encodeTensorChunks } from '../../shared/cluster/tensor-stream.js';
import { Rng } from '../../shared/random.js';

/** `n` deterministic pseudo-random bytes: AES-CTR's keystream under a key made from `seed`. */
const bytes = (n: number, seed: number) => {
  const key = Buffer.alloc(16);
  key.writeUInt32LE(seed);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
};

/**
 * Deep equality with `data` fields compared as bytes (vitest's toEqual walks a megabyte Buffer
 * element by element, which takes seconds).
 */
function expectSame(actual: unknown, expected: unknown): void {
  /** The value with every byte array replaced by its length, and the byte arrays in visiting order. */
  const split = (v: unknown, found: Uint8Array[]): unknown => {
    if (v instanceof Uint8Array) return `<${found.push(v) && v.length} bytes>`;
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, split(x, found)]));
    return v;
  };
  const [a, e]: Uint8Array[][] = [[], []];
  expect(split(actual, a)).toEqual(split(expected, e));
  a.forEach((bytes, i) => expect(Buffer.compare(bytes, e[i]!), `byte field ${i}`).toBe(0));
}

const chunk = (o: Partial<TensorChunk>): TensorChunk => ({ tensor: 0, offset: 0, count: 0, codec: '', scale: 0, data: Buffer.alloc(0), version: 0, tensorCount: 0, ...o });

const CHUNKS: [string, TensorChunk][] = [
  ['all defaults (empty message)', chunk({})],
  ['a typical first chunk', chunk({ tensor: 0, offset: 0, count: 3, codec: 'none', data: bytes(12, 1), version: 7, tensorCount: 6 })],
  ['int8 with a scale', chunk({ tensor: 5, offset: 262_144, count: 100, codec: 'int8', scale: Math.fround(0.0123), data: bytes(100, 2), version: 12_345 })],
  ['a megabyte payload (3-byte length prefix)', chunk({ tensor: 2, offset: 1 << 20, count: 262_144, codec: 'none', data: bytes(1 << 20, 3), version: 2 ** 40 })],
  ['a 127/128-byte boundary payload', chunk({ count: 32, codec: 'fp16', data: bytes(128, 4) })],
  ['offset and version near 2^53', chunk({ offset: Number.MAX_SAFE_INTEGER, version: Number.MAX_SAFE_INTEGER - 1, count: 1, data: bytes(4, 5) })],
  ['negative tensor and version (10-byte varints)', chunk({ tensor: -3, version: -9, data: bytes(4, 6) })],
  ['a non-ASCII codec name', chunk({ codec: 'ñ-codec✓', data: bytes(8, 7) })],
];

/** A header with per-leaf figures (nested messages, repeated doubles, an optional NonFinite). */
const HEADER: ResultHeader = {
  workerId: 'w1-abc',
  jobId: 'job-1',
  runId: 2,
  step: 41,
  microbatch: 3,
  kind: TaskKind.TRAIN,
  paramVersion: 41,
  computeMs: 3.25,
  codec: 'none',
  phase: 'train:41',
  leaves: [
    { count: 32, loss: 0.731, headLosses: [0.5, 0.25], headNormalizers: [32, 16], correct: 29, hasCorrect: true, nonFinite: undefined, attacks: [] },
    { count: 7, loss: Number.NaN, headLosses: [Number.NaN], headNormalizers: [7], correct: 0, hasCorrect: false, nonFinite: { param: 3, element: 2 ** 40, value: Number.NEGATIVE_INFINITY }, attacks: [{ correct: 3, loss: 9.25 }, { correct: 1, loss: 12.5 }] },
    { count: 0, loss: 0, headLosses: [], headNormalizers: [], correct: 0, hasCorrect: false, nonFinite: undefined, attacks: [] },
  ],
  wantNext: true,
};

describe('TensorChunk wire encoding', () => {
  it.each(CHUNKS)('%s: same bytes as ts-proto, and both decoders agree', (_name, c) => {
    const ours = encodeTensorChunk(c);
    const theirs = TensorChunk.encode(c).finish();
    expect(Buffer.compare(ours, Buffer.from(theirs))).toBe(0);
    expectSame(decodeTensorChunk(ours), TensorChunk.decode(theirs));
    expectSame(decodeTensorChunk(theirs), c);
  });

  it('reads data as a view into the received bytes', () => {
    const wire = encodeTensorChunk(chunk({ count: 4, data: bytes(16, 8) }));
    const decoded = decodeTensorChunk(wire);
    expect(decoded.data.buffer).toBe(wire.buffer);
    wire[wire.length - 1] ^= 0xff;
    expect(decoded.data[15]).toBe(wire[wire.length - 1]);
  });

  it('skips fields it does not know (a newer peer) of every wire type', () => {
    const w = new BinaryWriter();
    TensorChunk.encode(chunk({ tensor: 1, count: 2, data: bytes(8, 9), version: 3 }), w);
    w.uint32((20 << 3) | 0).uint64(123n);
    w.uint32((21 << 3) | 2).bytes(bytes(40, 10));
    w.uint32((22 << 3) | 5).fixed32(7);
    w.uint32((23 << 3) | 1).fixed64(8n);
    w.uint32(64).uint32(9);
    const decoded = decodeTensorChunk(w.finish());
    expect(decoded).toEqual(chunk({ tensor: 1, count: 2, data: bytes(8, 9), version: 3, tensorCount: 9 }));
  });

  it('refuses a version beyond 2^53 with a message naming the field', () => {
    const w = new BinaryWriter().uint32(56).int64(2n ** 60n);
    expect(() => decodeTensorChunk(w.finish())).toThrow(/tensor chunk field 'version' is 1152921504606846976, beyond the safe integer range/);
  });

  it('round-trips the chunks of real tensors, borrowed or copied', () => {
    const rng = Rng.seeded(11);
    const tensors = [new Float32Array(1000).map(() => rng.uniform() - 0.5), new Float32Array(0), new Float32Array(77).map(() => rng.uniform())];
    for (const borrow of [false, true]) {
      const chunks = encodeTensorChunks(tensors, { chunkBytes: 1024, version: 5, borrow });
      for (const c of chunks) expect(decodeTensorChunk(encodeTensorChunk(c))).toEqual(TensorChunk.decode(TensorChunk.encode(c).finish()));
      // Borrowed chunks are views of the arrays; copied ones are not.
      expect(chunks[0]!.data.buffer === tensors[0]!.buffer).toBe(borrow);
    }
  });
});

describe('ResultChunk wire encoding', () => {
  const cases: [string, ResultChunk][] = [
    ['a header', { header: HEADER, tensor: undefined }],
    ['a header with every field at its default', { header: ResultHeader.fromPartial({}), tensor: undefined }],
    ['an empty message', { header: undefined, tensor: undefined }],
    ...CHUNKS.map(([name, c]): [string, ResultChunk] => [`a tensor part: ${name}`, { header: undefined, tensor: c }]),
    ['both parts (not valid as a oneof, but encoded like ts-proto)', { header: HEADER, tensor: CHUNKS[1]![1] }],
  ];

  it.each(cases)('%s: same bytes as ts-proto, and both decoders agree', (_name, m) => {
    const ours = encodeResultChunk(m);
    const theirs = ResultChunk.encode(m).finish();
    expect(Buffer.compare(ours, Buffer.from(theirs))).toBe(0);
    expectSame(decodeResultChunk(ours), ResultChunk.decode(theirs));
  });

  it('round-trips a header: every leaf’s figures (NaN, ±Inf and 64-bit element indices included) and want_next', () => {
    const decoded = decodeResultChunk(encodeResultChunk({ header: HEADER, tensor: CHUNKS[1]![1] }));
    expectSame(decoded.header, HEADER);
    expectSame(decoded.tensor, CHUNKS[1]![1]);
  });

  it('reads a tensor part with data as a view', () => {
    const wire = encodeResultChunk({ header: undefined, tensor: CHUNKS[3]![1] });
    const decoded = decodeResultChunk(wire);
    expect(decoded.tensor!.data.buffer).toBe(wire.buffer);
    expect(Buffer.compare(decoded.tensor!.data, CHUNKS[3]![1].data)).toBe(0);
  });
});
