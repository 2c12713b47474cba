/**
 * The hand-written fp16 codec against @petamoriken/float16 (the oracle), bit for bit, over every
 * half value, every rounding tie, and random float32 bit patterns of every class.
 */
import { getFloat16, setFloat16 } from '@petamoriken/float16';
import { describe, expect, it } from 'vitest';
import { decodeFloat16BytesInto, encodeFloat16, float16Bits, float16Value, halfBitsFromFloat32Bits } from '../../shared/tensor/fp16.js';
import { Rng } from '../../shared/random.js';

const dv = new DataView(new ArrayBuffer(4));
function oracleBits(x: number): number {
  setFloat16(dv, 0, x, true);
  return dv.getUint16(0, true);
}
function oracleValue(h: number): number {
  dv.setUint16(0, h, true);
  return getFloat16(dv, 0, true);
}
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function floatOfBits(b: number): number {
  u32[0] = b;
  return f32[0]!;
}
const isHalfNaN = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

/** Checks encode(x) for float32 bit patterns: same bits as the oracle, NaN for NaN. */
function expectEncodesLikeOracle(patterns: Iterable<number>): number {
  let checked = 0;
  for (const b of patterns) {
    const x = floatOfBits(b);
    const ours = halfBitsFromFloat32Bits(b >>> 0);
    if (Number.isNaN(x)) {
      if (!isHalfNaN(ours)) throw new Error(`NaN 0x${(b >>> 0).toString(16)} encoded to non-NaN 0x${ours.toString(16)}`);
    } else {
      const want = oracleBits(x);
      if (ours !== want) throw new Error(`${x} (0x${(b >>> 0).toString(16)}): got 0x${ours.toString(16)}, oracle 0x${want.toString(16)}`);
    }
    checked++;
  }
  return checked;
}

describe('fp16 decode', () => {
  it('matches the oracle for all 65536 bit patterns (±0, subnormals, Inf and NaN included)', () => {
    for (let h = 0; h < 65536; h++) {
      const ours = float16Value(h);
      const want = oracleValue(h);
      if (Number.isNaN(want)) expect(Number.isNaN(ours), `0x${h.toString(16)}`).toBe(true);
      else if (!Object.is(ours, want)) throw new Error(`0x${h.toString(16)}: got ${ours}, oracle ${want}`);
    }
    expect(float16Value(0x3c00)).toBe(1);
    expect(float16Value(0x0001)).toBe(2 ** -24);
    expect(float16Value(0x7bff)).toBe(65504);
    expect(Object.is(float16Value(0x8000), -0)).toBe(true);
  });
});

describe('fp16 encode (round to nearest, ties to even)', () => {
  it('maps every half value to itself', () => {
    const patterns: number[] = [];
    for (let h = 0; h < 65536; h++) if (!isHalfNaN(h)) patterns.push(u32Of(float16Value(h)));
    expect(expectEncodesLikeOracle(patterns)).toBe(65536 - 2 * 1023);
    for (let h = 0; h < 65536; h++) {
      if (!isHalfNaN(h) && halfBitsFromFloat32Bits(u32Of(float16Value(h))) !== h) throw new Error(`0x${h.toString(16)} does not round-trip`);
    }
  });

  it('rounds the exact midpoints between neighbouring halves to even, and one float32 ulp either side away from them', () => {
    const patterns: number[] = [];
    for (let h = 0; h < 0x7c00; h++) {
      const lo = float16Value(h);
      const hi = h === 0x7bff ? 65536 : float16Value(h + 1);
      const mid = u32Of((lo + hi) / 2); // exact in float32: halves have 11 significant bits
      for (const sign of [0, 0x80000000]) for (const d of [-1, 0, 1]) patterns.push((mid + d) | sign);
    }
    expect(expectEncodesLikeOracle(patterns)).toBe(0x7c00 * 6);
    // Spot checks: 1 + 2⁻¹¹ is a tie between 1 (even) and 1 + 2⁻¹⁰ → 1; 1 + 3·2⁻¹¹ → 1 + 2·2⁻¹⁰ (even)
    expect(float16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(float16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it('handles the edges: overflow to Inf, the subnormal range and underflow to zero', () => {
    const cases: [number, number][] = [
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00], // the tie between 65504 (odd) and 65536 (→ Inf) goes to Inf
      [1e10, 0x7c00],
      [-1e10, 0xfc00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -14 - 2 ** -25, 0x0400], // the tie with the largest subnormal 0x03ff (odd) rounds up
      [2 ** -24, 0x0001], // smallest subnormal
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 units of 2⁻²⁴ → 2 (even)
      [2 ** -25, 0x0000], // tie between 0 and 2⁻²⁴ → 0 (even)
      [Math.fround(2 ** -25 * (1 + 2 ** -23)), 0x0001],
      [-(2 ** -26), 0x8000],
      [1.401298464324817e-45, 0x0000], // smallest float32 subnormal
      [-0, 0x8000],
    ];
    for (const [x, h] of cases) {
      expect(float16Bits(x), `${x}`).toBe(h);
      expect(oracleBits(x), `oracle ${x}`).toBe(h);
    }
    expect(isHalfNaN(float16Bits(NaN))).toBe(true);
    // A NaN whose payload lives only in the low bits must stay NaN, not turn into Inf.
    expect(isHalfNaN(halfBitsFromFloat32Bits(0x7f800001))).toBe(true);
    expect(isHalfNaN(halfBitsFromFloat32Bits(0xff800001))).toBe(true);
  });

  it('matches the oracle on 300 000 random float32 bit patterns of every exponent', () => {
    const rng = Rng.seeded(20260);
    const patterns: number[] = [];
    // Uniform over all bit patterns, plus a band around the half range where most decisions are.
    for (let i = 0; i < 150_000; i++) patterns.push(rng.int(0, 0xffffffff));
    for (let i = 0; i < 150_000; i++) patterns.push(((rng.int(0, 1) << 31) | (rng.int(95, 145) << 23) | rng.int(0, 0x7fffff)) >>> 0);
    expect(expectEncodesLikeOracle(patterns)).toBe(300_000);
  });

  it('keeps the relative error within 2⁻¹¹ in the normal range', () => {
    const rng = Rng.seeded(3);
    const values = new Float32Array(20_000);
    for (let i = 0; i < values.length; i++) values[i] = (rng.int(0, 1) ? -1 : 1) * (1 + rng.uniform()) * 2 ** rng.int(-14, 14);
    const back = new Float32Array(values.length);
    const bits = encodeFloat16(values);
    decodeFloat16BytesInto(new Uint8Array(bits.buffer), back);
    let worst = 0;
    for (let i = 0; i < values.length; i++) if (values[i] !== 0) worst = Math.max(worst, Math.abs(back[i]! - values[i]!) / Math.abs(values[i]!));
    expect(worst).toBeLessThanOrEqual(2 ** -11);
    expect(worst).toBeGreaterThan(2 ** -13); // the bound is nearly reached: rounding really happens
  });
});

function u32Of(x: number): number {
  f32[0] = x;
  return u32[0]!;
}
