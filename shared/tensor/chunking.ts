/**
 * A list of float32 arrays (parameters, gradients) as byte chunks of at most N bytes each, and
 * back. gRPC refuses messages over 4 MiB by default; a model's tensors laid end to end are cut
 * into chunks that each address themselves (tensor, offset, count), so any size travels and
 * the receiver can check every chunk against what it expects.
 *
 * A chunk never spans two tensors: each int8 chunk gets a scale fitted to one tensor's values
 * (a bias next to a weight matrix would otherwise share the weight's scale), and a 'none' chunk
 * is one contiguous piece of one array.
 */
import type { CodecName, TensorCodec } from './codec.js';
import { codecFor } from './codecs.js';
import { TensorFormatError } from './errors.js';

/** Default chunk payload: a quarter of gRPC's 4 MiB message limit, leaving room for framing. */
export const DEFAULT_MAX_CHUNK_BYTES = 1 << 20;

/** Where a chunk's values belong: elements offset..offset+count−1 of tensor `tensor`. */
export interface ChunkRange {
  tensor: number;
  offset: number;
  count: number;
}

/** One encoded chunk (the fields of the wire's TensorChunk that describe the values). */
export interface EncodedChunk extends ChunkRange {
  codec: CodecName;
  /** int8: dequantised value = byte·scale; 0 for the other codecs. */
  scale: number;
  data: Buffer;
}

/**
 * Cuts tensors of the given lengths into ranges of at most ⌊maxChunkBytes / bytesPerValue⌋
 * values, tensor by tensor, in order. Empty tensors get no range.
 */
export function planChunks(lengths: readonly number[], maxChunkBytes: number, bytesPerValue: number): ChunkRange[] {
  const perChunk = Math.floor(maxChunkBytes / bytesPerValue);
  if (!Number.isInteger(maxChunkBytes) || perChunk < 1) {
    throw new TensorFormatError(`maxChunkBytes must be an integer ≥ ${bytesPerValue} (one value), got ${maxChunkBytes}`);
  }
  const out: ChunkRange[] = [];
  lengths.forEach((length, tensor) => {
    for (let offset = 0; offset < length; offset += perChunk) out.push({ tensor, offset, count: Math.min(perChunk, length - offset) });
  });
  return out;
}

/**
 * Encodes `tensors` into chunks whose `data` holds at most `maxChunkBytes` bytes. With `borrow`,
 * uncompressed chunks are views of the tensors rather than copies.
 */
export function encodeChunks(
  tensors: readonly Float32Array[],
  opts: { codec?: CodecName; maxChunkBytes?: number; borrow?: boolean } = {},
): EncodedChunk[] {
  const codec = codecFor(opts.codec ?? 'none');
  const borrow = opts.borrow === true && codec.name === 'none';
  return planChunks(
    tensors.map((t) => t.length),
    opts.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES,
    codec.bytesPerValue,
  ).map((r) => {
    const values = tensors[r.tensor]!.subarray(r.offset, r.offset + r.count);
    if (borrow) return { ...r, codec: codec.name, scale: 0, data: Buffer.from(values.buffer, values.byteOffset, values.byteLength) };
    const { data, scale } = codec.encode(values);
    return { ...r, codec: codec.name, scale, data };
  });
}

/**
 * Rebuilds tensors of known lengths from chunks arriving in any order. Every chunk is checked:
 * tensor index, range, byte length for its codec, and no overlap with what already arrived.
 */
export class ChunkAssembler {
  private readonly out: Float32Array[];
  /** Ranges received per tensor, as [start, end) pairs, for the overlap check. */
  private readonly ranges: [number, number][][];
  private readonly filled: number[];

  /**
   * @param into where to decode each tensor (exact lengths, e.g. the parts of an arena vector);
   *   fresh arrays when not given
   */
  constructor(
    readonly lengths: readonly number[],
    into?: readonly Float32Array[],
  ) {
    if (into && (into.length !== lengths.length || into.some((a, i) => a.length !== lengths[i]))) {
      throw new TensorFormatError(`decode targets hold [${into.map((a) => a.length).join(', ')}] values, the tensors [${lengths.join(', ')}]`);
    }
    this.out = into ? [...into] : lengths.map((n) => new Float32Array(n));
    this.ranges = lengths.map(() => []);
    this.filled = lengths.map(() => 0);
  }

  /**
   * Decodes one chunk into its place.
   * @throws TensorFormatError naming the tensor and what does not fit; UnknownCodecError for a bad codec.
   */
  accept(chunk: { tensor: number; offset: number; count: number; codec: string; scale: number; data: Uint8Array }): void {
    const { tensor, offset, count } = chunk;
    if (!Number.isInteger(tensor) || tensor < 0 || tensor >= this.lengths.length) {
      throw new TensorFormatError(`chunk for tensor ${tensor}, but only tensors 0..${this.lengths.length - 1} are expected`);
    }
    const length = this.lengths[tensor]!;
    if (!Number.isInteger(offset) || !Number.isInteger(count) || offset < 0 || count < 1 || offset + count > length) {
      throw new TensorFormatError(`tensor ${tensor}: chunk covers elements [${offset}, ${offset + count}), the tensor has ${length}`);
    }
    const codec: TensorCodec = codecFor(chunk.codec || 'none');
    const bytes = count * codec.bytesPerValue;
    if (chunk.data.byteLength !== bytes) {
      throw new TensorFormatError(`tensor ${tensor}: a ${codec.name} chunk of ${count} values needs ${bytes} bytes, got ${chunk.data.byteLength}`);
    }
    const end = offset + count;
    const clash = this.ranges[tensor]!.find(([s, e]) => offset < e && s < end);
    if (clash) {
      throw new TensorFormatError(`tensor ${tensor}: chunk [${offset}, ${end}) overlaps [${clash[0]}, ${clash[1]}) already received`);
    }
    codec.decodeInto(chunk.data, chunk.scale, this.out[tensor]!.subarray(offset, end));
    this.ranges[tensor]!.push([offset, end]);
    this.filled[tensor]! += count;
  }

  /** Whether every element of every tensor has arrived. */
  get complete(): boolean {
    return this.filled.every((f, i) => f === this.lengths[i]);
  }

  /**
   * The rebuilt tensors.
   * @throws TensorFormatError naming the first tensor still short of values.
   */
  result(): Float32Array[] {
    const short = this.filled.findIndex((f, i) => f !== this.lengths[i]);
    if (short >= 0) throw new TensorFormatError(`tensor ${short} has ${this.filled[short]} of ${this.lengths[short]} values`);
    return this.out;
  }
}
