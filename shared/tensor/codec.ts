/**
 * The contract of a chunk codec: how one chunk of float32 values is written as bytes.
 * Implementations: codecs.ts ('none', 'fp16', 'int8').
 */

export const CODEC_NAMES = ['none', 'fp16', 'int8'] as const;
export type CodecName = (typeof CODEC_NAMES)[number];

export interface TensorCodec {
  readonly name: CodecName;
  /** Encoded bytes per float32 value (the scale travels beside the bytes, not in them). */
  readonly bytesPerValue: number;
  /**
   * Encodes one chunk into fresh bytes (never a view of `values`, so the caller may change its
   * arrays at once), with the chunk's scale (int8; 0 for the others).
   */
  encode(values: Float32Array): { data: Buffer; scale: number };
  /**
   * Decodes `data` (any byte alignment) into `out`, whose length is the chunk's value count.
   * Callers check `data.byteLength === out.length · bytesPerValue` first (chunking.ts does).
   */
  decodeInto(data: Uint8Array, scale: number, out: Float32Array): void;
}
