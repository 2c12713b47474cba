/**
 * float32 arrays ↔ bytes without copying. The wire format is little-endian; every machine
 * gradfleet runs on (x86-64, arm64) is too, so the typed-array memory already is the wire format
 * and a view is enough. A big-endian host is refused at load rather than silently mis-read.
 *
 * Bytes from gRPC are Node Buffers that are often slices of a shared pool at any byte offset; a
 * Float32Array must start at a multiple of 4, so those (and only those) are copied.
 */
import { TensorFormatError } from './errors.js';

const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
if (!HOST_LITTLE_ENDIAN) throw new TensorFormatError('gradfleet needs a little-endian host: tensors travel as little-endian bytes');

/** The bytes of `values`, as a Buffer sharing its memory (no copy). */
export function float32AsBytes(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

/**
 * `bytes` read as little-endian float32: a view sharing their memory when byteOffset is a
 * multiple of 4, otherwise an aligned copy.
 * @throws TensorFormatError when the length is not a multiple of 4.
 */
export function bytesAsFloat32(bytes: Uint8Array): Float32Array {
  return alignedView(bytes, 4, (b, o, n) => new Float32Array(b, o, n));
}

/** `bytes` read as little-endian uint16 (fp16 bit patterns): a view when 2-aligned, else a copy. */
export function bytesAsUint16(bytes: Uint8Array): Uint16Array {
  return alignedView(bytes, 2, (b, o, n) => new Uint16Array(b, o, n));
}

function alignedView<T>(bytes: Uint8Array, size: number, make: (buffer: ArrayBufferLike, byteOffset: number, length: number) => T): T {
  if (bytes.byteLength % size !== 0) {
    throw new TensorFormatError(`${bytes.byteLength} bytes is not a whole number of ${size}-byte values`);
  }
  if (bytes.byteOffset % size === 0) return make(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return make(copy.buffer, 0, bytes.byteLength / size);
}

/** Reused by copyBytes; grows to the largest chunk seen. */
let staging = new Uint8Array(0);

/**
 * Copies `src` into `dst` (same length). V8 copies into a SharedArrayBuffer (the coordinator's
 * arena, a worker's weight slots) element by element when the two offsets are not equally
 * aligned, about 17× slower than memmove; such a copy goes through an aligned staging buffer.
 */
export function copyBytes(dst: Uint8Array, src: Uint8Array): void {
  if (!(dst.buffer instanceof SharedArrayBuffer) || dst.byteOffset % 8 === src.byteOffset % 8) {
    dst.set(src);
    return;
  }
  if (staging.length < src.length) staging = new Uint8Array(src.length);
  const aligned = staging.subarray(0, src.length);
  aligned.set(src);
  dst.set(aligned);
}
