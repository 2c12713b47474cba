/**
 * Lists of float32 tensors as TensorChunk messages (the byte work, codecs and chunking, is
 * shared/tensor's), and back on the receiving side with checks that name what did not match:
 * "gradient of parameter 'fc1.weight' (tensor 0) has 4095 values, expected 4096".
 *
 * A stream carries its tensors in order; the first chunk also says how many tensors it carries
 * and at which parameter version. Empty tensors send no chunk.
 */
import type { TensorChunk } from '../proto/gen/cluster.js';
import { ChunkAssembler, encodeChunks, TensorError, type CodecName } from '../tensor/index.js';
import { TensorStreamError } from './errors.js';

/** Default payload per chunk: well under gRPC's 4 MiB message limit. */
export { DEFAULT_MAX_CHUNK_BYTES as DEFAULT_CHUNK_BYTES } from '../tensor/index.js';

export interface EncodeOptions {
  codec?: CodecName;
  /** Upper bound of a chunk's payload in bytes. */
  chunkBytes?: number;
  /** Parameter version the tensors belong to (0 where none applies). */
  version?: number;
  /**
   * Uncompressed chunks are views of `tensors` instead of copies (the serializer copies them into
   * the message). Only for arrays nobody changes until every chunk has been written.
   */
  borrow?: boolean;
}

/**
 * Encodes `tensors` as chunk messages. Values are copied (or encoded) at once, so the caller may
 * change its arrays afterwards without changing what is sent (unless `borrow` says otherwise). A list whose tensors are all empty
 * still sends one (empty) chunk, so the receiver learns the tensor count.
 */
export function encodeTensorChunks(tensors: readonly Float32Array[], opts: EncodeOptions = {}): TensorChunk[] {
  const version = opts.version ?? 0;
  const chunks: TensorChunk[] = encodeChunks(tensors, { codec: opts.codec, maxChunkBytes: opts.chunkBytes, borrow: opts.borrow }).map((c) => ({ ...c, version, tensorCount: 0 }));
  if (chunks.length === 0 && tensors.length > 0) chunks.push({ tensor: 0, offset: 0, count: 0, codec: opts.codec ?? 'none', scale: 0, data: Buffer.alloc(0), version, tensorCount: 0 });
  if (chunks.length > 0) chunks[0]!.tensorCount = tensors.length;
  return chunks;
}

/** What a receiver expects of one tensor: its name and role (for messages) and its length. */
export interface ExpectedTensor {
  name: string;
  /** e.g. 'gradient of parameter', 'updated buffer', 'parameter'. */
  role: string;
  length: number;
}

/**
 * Puts a chunk stream back together, checking every chunk against the expected list.
 * Errors are TensorStreamError naming the tensor, the expected and the received sizes.
 */
export class TensorAssembler {
  private readonly assembler: ChunkAssembler;
  private readonly filled: number[];
  private started = false;
  /** Version carried by the stream's first chunk. */
  version: number | undefined;

  constructor(
    private readonly expected: readonly ExpectedTensor[],
    /** What the stream is, for messages: "result for task 0/train:3/1", "parameters of run 0". */
    private readonly what: string,
    /** Where to decode the tensors (exact lengths); fresh arrays when not given. */
    into?: readonly Float32Array[],
  ) {
    this.assembler = new ChunkAssembler(
      expected.map((e) => e.length),
      into,
    );
    this.filled = expected.map(() => 0);
  }

  add(chunk: TensorChunk): void {
    const n = this.expected.length;
    if (!this.started) {
      this.started = true;
      this.version = chunk.version;
      if (chunk.tensorCount !== n) throw new TensorStreamError(`${this.what} carries ${chunk.tensorCount} tensors, expected ${n} (${this.listing()})`);
    }
    if (chunk.count === 0 && chunk.data.length === 0) return; // the empty marker of an all-empty list
    if (chunk.tensor >= n) throw new TensorStreamError(`${this.what}: chunk for tensor ${chunk.tensor}, but it carries only ${n} tensors (${this.listing()})`);
    const e = this.expected[chunk.tensor]!;
    const end = chunk.offset + chunk.count;
    if (end > e.length) throw new TensorStreamError(`${this.what}: ${this.label(chunk.tensor)} has at least ${end} values, expected ${e.length}`, e.name);
    try {
      this.assembler.accept(chunk);
    } catch (err) {
      if (err instanceof TensorError) throw new TensorStreamError(`${this.what}: ${this.label(chunk.tensor)}: ${err.message}`, e.name);
      throw err;
    }
    this.filled[chunk.tensor]! += chunk.count;
  }

  /** The tensors, once every one is complete. */
  finish(): Float32Array[] {
    const n = this.expected.length;
    if (n > 0 && !this.started) throw new TensorStreamError(`${this.what} carries no tensors, expected ${n} (${this.listing()})`);
    const short = this.filled.findIndex((f, i) => f !== this.expected[i]!.length);
    if (short >= 0) {
      const e = this.expected[short]!;
      throw new TensorStreamError(`${this.what}: ${this.label(short)} has ${this.filled[short]} values, expected ${e.length}`, e.name);
    }
    return this.assembler.result();
  }

  private label(tensor: number): string {
    const e = this.expected[tensor]!;
    return `${e.role} '${e.name}' (tensor ${tensor})`;
  }

  private listing(): string {
    const roles = new Map<string, number>();
    for (const e of this.expected) roles.set(e.role, (roles.get(e.role) ?? 0) + 1);
    return [...roles].map(([role, count]) => `${count} × ${role}`).join(' + ') || 'none';
  }
}

/** Little-endian uint32 indices as bytes (a copy). */
export function indicesToBytes(indices: Uint32Array): Buffer {
  return Buffer.from(new Uint8Array(indices.buffer, indices.byteOffset, indices.byteLength));
}

/** Bytes of little-endian uint32 indices back to an array (copied: wire bytes need not be aligned). */
export function indicesFromBytes(bytes: Uint8Array): Uint32Array {
  if (bytes.length % 4 !== 0) throw new TensorStreamError(`sample indices take ${bytes.length} bytes, not a multiple of 4`);
  const out = new Uint32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
