/**
 * Symmetric int8 quantisation with one scale per chunk:
 *   scale = absmax / 127                      (stored as float32: the wire carries a float)
 *   q     = round(x / scale), ties away from zero, clamped to [−127, 127]
 *   x̂     = q · scale
 * Zero maps to zero exactly, and |x − x̂| ≤ scale/2 (+ half a float32 ulp of x from storing x̂).
 *
 * A chunk holding NaN or ±Inf has no meaningful absmax; it gets scale = NaN so that every value
 * decodes to NaN. Quantising must not turn a diverged gradient into finite numbers: the
 * coordinator's non-finite check has to see it and skip the step.
 */

export interface Int8Chunk {
  data: Int8Array;
  scale: number;
}

/** Quantises `values` (one chunk) to int8 with the chunk's absmax scale. */
export function quantizeInt8(values: Float32Array, out: Int8Array = new Int8Array(values.length)): Int8Chunk {
  let absmax = 0;
  let finite = true;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    // x − x is NaN exactly for NaN and ±Inf.
    if (x - x !== 0) {
      finite = false;
      break;
    }
    const a = Math.abs(x);
    if (a > absmax) absmax = a;
  }
  if (!finite) {
    out.fill(0);
    return { data: out, scale: NaN };
  }
  if (absmax === 0) {
    out.fill(0);
    return { data: out, scale: 0 };
  }
  // Denormal inputs can make absmax/127 round to 0 in float32; then everything quantises to 0.
  const scale = Math.fround(absmax / 127);
  for (let i = 0; i < values.length; i++) {
    const r = scale === 0 ? 0 : values[i]! / scale;
    const q = Math.min(127, Math.floor(Math.abs(r) + 0.5));
    out[i] = r < 0 ? -q : q;
  }
  return { data: out, scale };
}

/** x̂ = q·scale into `out` (same length as `data`). */
export function dequantizeInt8Into(data: Int8Array, scale: number, out: Float32Array): void {
  for (let i = 0; i < data.length; i++) out[i] = data[i]! * scale;
}
