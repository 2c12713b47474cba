/**
 * Limits of a SubmitResult stream, derived from the job: the model's tensor sizes, the job's
 * codec and its chunk size. A worker cuts a training result into exactly
 * planChunks(lengths, chunkBytes, bytesPerValue) chunks, in tensor order, every one in the job's
 * codec (shared/cluster/tensor-stream.ts encodeTensorChunks); an evaluation result has no tensors.
 * A stream that sends more chunks or bytes than that, chunks out of order, in another codec or of
 * another parameter version is
 * refused at the first chunk that does not fit, before it is decoded (and gRPC refuses any single
 * message over maxReceiveMessageBytes before buffering it: coordinator/coordinator.ts).
 *
 * The guard is one small object per stream and a few integer compares per chunk: no allocation
 * per chunk.
 */
import { codecFor, planChunks, type CodecName } from '../../shared/tensor/index.js';
import type { TensorChunk } from '../../shared/proto/gen/cluster.js';
import type { ExpectedTensor } from '../../shared/cluster/tensor-stream.js';
import { LimitExceededError, MalformedResultError } from '../errors.js';

export interface StreamLimits {
  /** Tensor lengths, in order. */
  lengths: readonly number[];
  codec: CodecName;
  /** Chunks a result carries: the tensors cut at the job's chunk size (1 for a list of empty tensors). */
  maxChunks: number;
  /** Payload bytes a result carries: every value once, in the job's codec. */
  maxBytes: number;
}

/** An evaluation result: a header only. */
export const NO_TENSORS: StreamLimits = { lengths: [], codec: 'none', maxChunks: 0, maxBytes: 0 };

export function resultStreamLimits(layout: readonly ExpectedTensor[], codec: CodecName, chunkBytes: number): StreamLimits {
  const lengths = layout.map((t) => t.length);
  const bpv = codecFor(codec).bytesPerValue;
  const planned = planChunks(lengths, chunkBytes, bpv).length;
  return { lengths, codec, maxChunks: planned === 0 && lengths.length > 0 ? 1 : planned, maxBytes: lengths.reduce((a, n) => a + n, 0) * bpv };
}

/**
 * The largest gRPC message the coordinator takes: one chunk's payload plus its framing, or a
 * result header (one entry per leaf of a task; 1 MiB is room for thousands), whichever is larger.
 */
export function maxReceiveMessageBytes(chunkBytes: number): number {
  return chunkBytes + (1 << 20);
}

/** Most concurrent calls (HTTP/2 streams) on one connection; a worker uses about five. */
export const MAX_CONCURRENT_STREAMS = 64;

/** Checks one result stream's chunks, in arrival order, against its limits. */
export class ResultStreamGuard {
  private chunks = 0;
  private bytes = 0;
  private tensor = 0;
  private offset = 0;

  constructor(
    private readonly limits: StreamLimits,
    /** What the stream is, for messages. */
    private readonly what: string,
    /** The parameter version of the task: every chunk carries it. */
    private readonly version: number,
  ) {}

  /** Throws LimitExceededError (RESOURCE_EXHAUSTED) or MalformedResultError (INVALID_ARGUMENT). */
  check(c: TensorChunk): void {
    const l = this.limits;
    if (++this.chunks > l.maxChunks) throw new LimitExceededError(`${this.what}: more than ${l.maxChunks} tensor chunks (the model's tensors at the job's chunk size)`);
    this.bytes += c.data.length;
    if (this.bytes > l.maxBytes) throw new LimitExceededError(`${this.what}: more than ${l.maxBytes} tensor bytes (the model's ${l.lengths.length} tensors in codec ${l.codec})`);
    if (c.codec !== l.codec && !(c.codec === '' && l.codec === 'none')) throw new MalformedResultError(`${this.what}: chunk in codec '${c.codec}', the job's is '${l.codec}'`);
    if (c.version !== this.version) throw new MalformedResultError(`${this.what}: chunk says parameters version ${c.version}, the task's is ${this.version}`);
    if (this.chunks > 1 && c.tensorCount !== 0) throw new MalformedResultError(`${this.what}: chunk ${this.chunks} announces ${c.tensorCount} tensors; only the first chunk says how many`);
    if (c.count === 0 && c.data.length === 0) {
      // The marker a list of empty tensors sends: the first and only chunk.
      if (this.chunks !== 1 || l.maxBytes !== 0) throw new MalformedResultError(`${this.what}: an empty chunk where values are due`);
      return;
    }
    // In order: within a tensor each chunk starts where the last ended; a later tensor starts at
    // element 0 (one left short is named when the stream ends). Nothing is sent twice.
    if (c.tensor === this.tensor ? c.offset !== this.offset : c.tensor < this.tensor || c.offset !== 0) {
      throw new MalformedResultError(`${this.what}: chunk for tensor ${c.tensor} at element ${c.offset} out of order: the next chunk is tensor ${this.tensor} at element ${this.offset} or a later tensor at element 0`);
    }
    if (c.tensor !== this.tensor) this.tensor = c.tensor;
    this.offset = c.offset + c.count;
  }
}
