/** Tensors as bytes: zero-copy float32 views, fp16/int8 codecs behind a registry, chunking for gRPC streams. */
export * from './errors.js';
export { float32AsBytes, bytesAsFloat32, bytesAsUint16 } from './bytes.js';
export { CODEC_NAMES, type CodecName, type TensorCodec } from './codec.js';
export { codecFor, isCodecName } from './codecs.js';
export { halfBitsFromFloat32Bits, float16Bits, float16Value, encodeFloat16, decodeFloat16Into, decodeFloat16BytesInto } from './fp16.js';
export { quantizeInt8, dequantizeInt8Into, type Int8Chunk } from './int8.js';
export { planChunks, encodeChunks, ChunkAssembler, DEFAULT_MAX_CHUNK_BYTES, type ChunkRange, type EncodedChunk } from './chunking.js';
