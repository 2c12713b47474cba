/**
 * One step's gradient, from the ordered sum to what the optimizer gets:
 *   sums (index order, float64) → mean over the true sample count → non-finite check
 *   → clip by value (if set) → clip by global norm (if set)
 * Value clipping comes first so that the norm bound holds for what leaves here.
 * A non-finite value anywhere means the step is skipped; the result names the micro-batches.
 */
import { clipByGlobalNorm, clipByValue, globalNorm } from './clip.js';
import { findNonFinite, type NonFiniteLocation } from './non-finite.js';
import { meanFromSums, type OrderedSum } from './ordered-sum.js';

export interface ClipConfig {
  /** Clip the global L2 norm of the mean gradient to this. */
  maxNorm?: number;
  /** Clamp each mean-gradient value to [−value, value]. */
  value?: number;
}

export type ReducedStep =
  | {
      ok: true;
      /** Mean gradients, float32, clipped. */
      grads: Float32Array[];
      preClipNorm: number;
      postClipNorm: number;
      /** Global-norm clip factor (1 when not clipped). */
      scale: number;
      /** Number of values changed by value clipping. */
      valuesClipped: number;
    }
  | {
      ok: false;
      /** The first non-finite value of each micro-batch that had one (or of the mean, without microbatch). */
      nonFinite: NonFiniteLocation[];
    };

/** Reduces a complete OrderedSum to the step's gradient, or to the reason to skip the step. */
export function reduceStep(sum: OrderedSum, totalSamples: number, clip: ClipConfig = {}): ReducedStep {
  const sums = sum.sums();
  const bad = sum.nonFinite();
  if (bad.length > 0) return { ok: false, nonFinite: bad };
  const grads = meanFromSums(sums, totalSamples);
  // Finite float32 inputs cannot make a non-finite mean; checked anyway because skipping costs one pass.
  const inMean = findNonFinite(grads);
  if (inMean) return { ok: false, nonFinite: [inMean] };
  const valuesClipped = clip.value === undefined ? 0 : clipByValue(grads, clip.value);
  if (clip.maxNorm === undefined) {
    const norm = globalNorm(grads);
    return { ok: true, grads, preClipNorm: norm, postClipNorm: norm, scale: 1, valuesClipped };
  }
  const r = clipByGlobalNorm(grads, clip.maxNorm);
  return { ok: true, grads, preClipNorm: r.preClipNorm, postClipNorm: r.postClipNorm, scale: r.scale, valuesClipped };
}
