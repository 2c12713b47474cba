/** int8 quantisation with a per-chunk scale: hand example, error bound, zeros, NaN/Inf. */
import { describe, expect, it } from 'vitest';
import { dequantizeInt8Into, quantizeInt8 } from '../../shared/tensor/int8.js';
import { Rng } from '../../shared/random.js';

describe('int8 quantisation', () => {
  it('scales by absmax/127 and rounds ties away from zero', () => {
    // absmax 1 → scale = 1/127; 1 → 127, −0.5 → −63.5 → −64, 0.25 → 31.75 → 32, 0 → 0
    const { data, scale } = quantizeInt8(Float32Array.of(1, -0.5, 0.25, 0));
    expect(scale).toBe(Math.fround(1 / 127));
    expect([...data]).toEqual([127, -64, 32, 0]);
    const back = new Float32Array(4);
    dequantizeInt8Into(data, scale, back);
    expect([...back]).toEqual([127, -64, 32, 0].map((q) => Math.fround(q * scale)));
  });

  it('keeps every value within scale/2 (plus a float32 ulp) of the original', () => {
    const rng = Rng.seeded(17);
    for (let trial = 0; trial < 50; trial++) {
      const values = rng.floats(257, -1, 1).map((x) => x * 10 ** rng.int(-6, 3));
      const { data, scale } = quantizeInt8(values);
      const back = new Float32Array(values.length);
      dequantizeInt8Into(data, scale, back);
      let absmax = 0;
      for (const x of values) absmax = Math.max(absmax, Math.abs(x));
      expect(scale).toBe(Math.fround(absmax / 127));
      for (let i = 0; i < values.length; i++) {
        const bound = scale / 2 + Math.abs(values[i]!) * 2 ** -24;
        if (!(Math.abs(back[i]! - values[i]!) <= bound)) throw new Error(`trial ${trial}, value ${i}: ${values[i]} → ${back[i]}, bound ${bound}`);
      }
      // The largest magnitude lands on ±127 exactly.
      expect(Math.max(...[...data].map(Math.abs))).toBe(127);
    }
  });

  it('encodes an all-zero chunk with scale 0 and decodes it to zeros', () => {
    const { data, scale } = quantizeInt8(new Float32Array(5));
    expect(scale).toBe(0);
    const back = Float32Array.of(9, 9, 9, 9, 9);
    dequantizeInt8Into(data, scale, back);
    expect([...back]).toEqual([0, 0, 0, 0, 0]);
  });

  it('turns a chunk holding NaN or Inf into all NaN, so the step gets skipped rather than corrupted', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const { scale, data } = quantizeInt8(Float32Array.of(0.5, bad, -0.25));
      expect(scale).toBeNaN();
      const back = new Float32Array(3);
      dequantizeInt8Into(data, scale, back);
      expect([...back].every(Number.isNaN)).toBe(true);
    }
    // NaN first: it must not be skipped by the absmax comparison.
    expect(quantizeInt8(Float32Array.of(NaN, 1)).scale).toBeNaN();
  });
});
