/**
 * Codec name → implementation.
 *   none: raw little-endian float32, exact
 *   fp16: IEEE binary16, round to nearest even; relative error ≤ 2⁻¹¹ for 2⁻¹⁴ ≤ |x| ≤ 65504,
 *         absolute ≤ 2⁻²⁵ below; |x| ≥ 65520 becomes ±Inf (and so a skipped step, not a wrong one)
 *   int8: per-chunk scale absmax/127; |x − x̂| ≤ scale/2; a chunk with NaN/Inf decodes to all NaN
 */
import type { CodecName, TensorCodec } from './codec.js';
import { CODEC_NAMES } from './codec.js';
import { UnknownCodecError } from './errors.js';
import { copyBytes } from './bytes.js';
import { decodeFloat16BytesInto, encodeFloat16 } from './fp16.js';
import { dequantizeInt8Into, quantizeInt8 } from './int8.js';

const none: TensorCodec = {
  name: 'none',
  bytesPerValue: 4,
  encode: (values) => ({ data: Buffer.from(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)), scale: 0 }),
  // Copying bytes into the output's memory handles any input alignment.
  decodeInto: (data, _scale, out) => copyBytes(new Uint8Array(out.buffer, out.byteOffset, out.byteLength), data),
};

const fp16: TensorCodec = {
  name: 'fp16',
  bytesPerValue: 2,
  encode: (values) => {
    const data = Buffer.allocUnsafeSlow(values.length * 2);
    encodeFloat16(values, new Uint16Array(data.buffer, data.byteOffset, values.length));
    return { data, scale: 0 };
  },
  decodeInto: (data, _scale, out) => decodeFloat16BytesInto(data, out),
};

const int8: TensorCodec = {
  name: 'int8',
  bytesPerValue: 1,
  encode: (values) => {
    const data = Buffer.allocUnsafe(values.length);
    const { scale } = quantizeInt8(values, new Int8Array(data.buffer, data.byteOffset, values.length));
    return { data, scale };
  },
  decodeInto: (data, scale, out) => dequantizeInt8Into(new Int8Array(data.buffer, data.byteOffset, data.byteLength), scale, out),
};

const CODECS: Record<CodecName, TensorCodec> = { none, fp16, int8 };

export function isCodecName(name: string): name is CodecName {
  return (CODEC_NAMES as readonly string[]).includes(name);
}

/**
 * The codec called `name`.
 * @throws UnknownCodecError listing the supported names.
 */
export function codecFor(name: string): TensorCodec {
  if (!isCodecName(name)) throw new UnknownCodecError(name, CODEC_NAMES);
  return CODECS[name];
}
