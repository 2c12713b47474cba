/**
 * The arithmetic of post-training quantization (shared/quantize/scales.ts): per-channel int8
 * weights within half a step of the float values, activation ranges that hold zero exactly,
 * ONNX's round-half-to-even.
 */
import { describe, it, expect } from 'vitest';
import { activationParams, quantizePerChannel, roundHalfEven } from '../../shared/quantize/scales.js';
import { Rng } from '../../shared/random.js';

describe('quantization scales', () => {
  it('quantizes each output channel with its own scale, every weight within half a step, symmetric', () => {
    const rng = Rng.seeded(3);
    const dims = [4, 50];
    const w = Float32Array.from({ length: 200 }, (_, i) => (rng.uniform() - 0.5) * (i < 50 ? 0.01 : i < 100 ? 1 : i < 150 ? 100 : 0));
    const q = quantizePerChannel(w, dims, 0);
    expect(q.scales).toHaveLength(4);
    for (let i = 0; i < w.length; i++) {
      const c = Math.floor(i / 50);
      expect(Math.abs(q.values[i]! * q.scales[c]! - w[i]!)).toBeLessThanOrEqual(q.scales[c]! / 2 + 1e-12);
    }
    // The largest magnitude of a channel maps to ±127; a channel of zeros keeps scale 1 and stays 0.
    expect(Math.max(...Array.from(q.values.subarray(50, 100), Math.abs))).toBe(127);
    expect(q.scales[3]).toBe(1);
    expect([...q.values.subarray(150)].every((v) => v === 0)).toBe(true);
    expect([...quantizePerChannel(w.map((v) => -v), dims, 0).values]).toEqual([...q.values].map((v) => (v === 0 ? 0 : -v)));
  });

  it('takes channels along the axis it is given (a [in, out] MatMul weight: axis 1)', () => {
    const w = Float32Array.from([1, 100, -2, 50, 0.5, -100]); // [3 in, 2 out]
    const q = quantizePerChannel(w, [3, 2], 1);
    expect([...q.scales]).toEqual([Math.fround(2 / 127), Math.fround(100 / 127)]);
    expect([...q.values]).toEqual([64, 127, -127, 64, 32, -127]);
  });

  it('gives activation ranges that represent zero exactly', () => {
    const relu = activationParams(0, 6.3);
    expect(relu).toEqual({ scale: Math.fround(6.3 / 255), zeroPoint: 0 });
    const signed = activationParams(-1, 3);
    expect(signed.zeroPoint).toBe(64);
    expect(signed.scale).toBe(Math.fround(4 / 255));
    // A range that does not hold 0 is widened to it; an empty one keeps scale 1.
    expect(activationParams(2, 4)).toEqual({ scale: Math.fround(4 / 255), zeroPoint: 0 });
    expect(activationParams(0, 0)).toEqual({ scale: 1, zeroPoint: 0 });
  });

  it('rounds half to even, as QuantizeLinear does', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, 3]);
  });
});
