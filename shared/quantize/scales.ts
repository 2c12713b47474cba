/**
 * The arithmetic of post-training quantization, pure: per-channel symmetric int8 weights and
 * per-tensor asymmetric uint8 activations, as onnxruntime's QuantizeLinear/DequantizeLinear
 * define them (y = saturate(round(x / scale) + zero_point), round half to even;
 * x' = (y − zero_point) · scale).
 */

/** int8 weights with one scale per output channel (zero point 0): |w − w'| ≤ scale/2. */
export interface ChannelQuantized {
  values: Int8Array;
  scales: Float32Array;
}

/**
 * Quantizes `w` with `channels` scales along `axis` of `dims` (the output channels of a Gemm,
 * MatMul or Conv weight). Symmetric over [−127, 127], so that −w quantizes to −q.
 */
export function quantizePerChannel(w: Float32Array, dims: readonly number[], axis: number): ChannelQuantized {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const maxAbs = new Float32Array(channels);
  for (let i = 0; i < w.length; i++) {
    const c = Math.floor(i / inner) % channels;
    const a = Math.abs(w[i]!);
    if (a > maxAbs[c]!) maxAbs[c] = a;
  }
  // A channel of zeros keeps scale 1 (DequantizeLinear needs a scale, and 0·1 = 0).
  const scales = Float32Array.from(maxAbs, (m) => (m > 0 ? m / 127 : 1));
  const values = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const c = Math.floor(i / inner) % channels;
    values[i] = Math.max(-127, Math.min(127, roundHalfEven(w[i]! / scales[c]!)));
  }
  return { values, scales };
}

/** uint8 activation parameters for values seen in [min, max]; the range always holds 0 (exact zero, ReLU's floor). */
export function activationParams(min: number, max: number): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  const scale = hi > lo ? Math.fround((hi - lo) / 255) : 1;
  const zeroPoint = Math.max(0, Math.min(255, roundHalfEven(-lo / scale)));
  return { scale, zeroPoint };
}

export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; ONNX rounds half to even.
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
