/**
 * IEEE 754 binary16 ↔ float32, hand-written (see ECOSYSTEM.md: the npm package is the test
 * oracle, too slow for bulk).
 *
 * float32 → fp16 works on the bit pattern, rounding to nearest, ties to even:
 *   |x| ≥ 65520 (half-way past the largest half, 65504)  → ±Inf;  NaN → quiet NaN (top payload kept)
 *   normal half (|x| ≥ 2⁻¹⁴): rebias the exponent (127 → 15), keep 10 mantissa bits, and round
 *     by adding 0xFFF + (kept lsb) before dropping the low 13 bits; a carry rolls into the
 *     exponent, which is the right answer (…0x3FF + 1 → next binade, 65504+ → Inf is excluded above)
 *   subnormal half (2⁻²⁵ < |x| < 2⁻¹⁴): value = m·2⁻²⁴ with m = mantissa(with hidden 1) >> (126 − e),
 *     rounded on the shifted-out bits; |x| ≤ 2⁻²⁵ → ±0 (2⁻²⁵ itself is a tie and 0 is even)
 * fp16 → float32 is a 65536-entry table (256 KiB, built on first use): one load per value.
 */
import { bytesAsUint16 } from './bytes.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Bits of the float32 nearest to `x`, as an unsigned 32-bit integer. */
function float32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

/** float32 bit pattern → fp16 bit pattern, round to nearest even. */
export function halfBitsFromFloat32Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs >= 0x7f800000) {
    // Inf stays Inf; NaN keeps its top 9 payload bits and is forced quiet so it cannot become Inf.
    return abs === 0x7f800000 ? sign | 0x7c00 : sign | 0x7e00 | ((abs >>> 13) & 0x3ff);
  }
  if (abs >= 0x477ff000) return sign | 0x7c00; // ≥ 65520 rounds past 65504
  if (abs >= 0x38800000) {
    // Normal: subtract (127 − 15) << 23 to rebias, round on the 13 dropped bits.
    return sign | ((abs - 0x38000000 + 0xfff + ((abs >>> 13) & 1)) >>> 13);
  }
  const e = abs >>> 23;
  if (e < 102) return sign; // |x| < 2⁻²⁵: rounds to zero
  const mant = (abs & 0x7fffff) | 0x800000;
  const shift = 126 - e; // 14..24
  let h = mant >>> shift;
  const rest = mant & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (h & 1) === 1)) h += 1;
  return sign | h;
}

/** fp16 bits of the number `x` (first rounded to float32, as values arrive in Float32Arrays). */
export function float16Bits(x: number): number {
  return halfBitsFromFloat32Bits(float32Bits(x));
}

let decodeTable: Float32Array | undefined;

/** fp16 bit pattern → its value, computed from the fields (used to build the table). */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

function table(): Float32Array {
  if (!decodeTable) {
    decodeTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) decodeTable[h] = halfValue(h);
  }
  return decodeTable;
}

/** The value of the fp16 bit pattern `h`. */
export function float16Value(h: number): number {
  return table()[h & 0xffff]!;
}

/** float32 values → fp16 bit patterns (into `out` if given). */
export function encodeFloat16(values: Float32Array, out: Uint16Array = new Uint16Array(values.length)): Uint16Array {
  // A Float32Array always starts 4-aligned, so its bits can be read through a Uint32Array view.
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfBitsFromFloat32Bits(bits[i]!);
  return out;
}

/** fp16 bit patterns → float32 values, into `out` (same length). */
export function decodeFloat16Into(bits: Uint16Array, out: Float32Array): void {
  const t = table();
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]!]!;
}

/** Little-endian fp16 bytes (any alignment) → float32 values, into `out`. */
export function decodeFloat16BytesInto(bytes: Uint8Array, out: Float32Array): void {
  decodeFloat16Into(bytesAsUint16(bytes), out);
}
