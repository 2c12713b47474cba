/**
 * One step's gradient, from the sum over the reduction tree (shared/reduction) to what the
 * optimizer applies. The mean is sum·(1/divisor) — the divisor is the summed loss normalizers
 * (aggregate/divisor.ts), and multiplying by the reciprocal is what autograd does with a mean
 * loss's gradient — but it is not written out: the optimizer's kernel multiplies each summed
 * value by one factor as it reads it, which saves a pass over every parameter.
 *
 *   a NaN or ±Inf in the sum (or a mean that would overflow float32) skips the step, naming where
 *   ‖mean‖ = √(Σ sum²) / divisor  (float64, fixed order)
 *   clip by global norm (if set), as torch.nn.utils.clip_grad_norm_: c = maxNorm/(‖mean‖ + 1e-6)
 *   the optimizer applies sum · gradScale, gradScale = float32(min(c, 1) / divisor)
 *
 * Clipping by value (if set) needs the mean itself: it is written in place, clamped to
 * [−value, value], its norm measured, and then gradScale = float32(min(c, 1)). Value clipping
 * comes first so that the norm bound holds for what the optimizer applies. The norm after
 * clipping is reported as ‖mean‖·min(c, 1): a metric, not measured again.
 */
import type { FlatVector } from '../../shared/kernels/index.js';
import { AggregationConfigError } from './errors.js';
import type { NonFiniteLocation } from './non-finite.js';

export interface ClipConfig {
  /** Clip the global L2 norm of the mean gradient to this. */
  maxNorm?: number;
  /** Clamp each mean-gradient value to [−value, value]. */
  value?: number;
}

export type ReducedStep =
  | {
      ok: true;
      /** ‖mean‖ (after value clipping, before the norm clip). */
      preClipNorm: number;
      /** ‖mean‖·min(c, 1): the norm of what the optimizer applies. */
      postClipNorm: number;
      /** What the optimizer multiplies each value of the vector by (Optimizer.update's gradScale). */
      gradScale: number;
    }
  | {
      ok: false;
      /** Where the first non-finite value is (param index into the gradient's tensors). */
      nonFinite: NonFiniteLocation[];
    };

/** torch's guard against dividing by a zero norm; it also keeps the clipped norm just under maxNorm. */
const NORM_EPS = 1e-6;
/** Below float32's largest value (3.4028235e38) with room for one rounding. */
const FLOAT32_SAFE = 3.4e38;

/**
 * Checks and clips the step's summed gradient (the first `paramCount` tensors of `sum`; tensors
 * after them, the weighted buffer states, are left alone). The vector keeps the sums unless value
 * clipping is set, which writes the clamped mean in its place.
 */
export function reduceGradient(sum: FlatVector, paramCount: number, divisor: number, clip: ClipConfig = {}): ReducedStep {
  if (!(Number.isFinite(divisor) && divisor > 0)) throw new AggregationConfigError('divisor', divisor, 'must be > 0');
  if (clip.value !== undefined && !(Number.isFinite(clip.value) && clip.value > 0)) throw new AggregationConfigError('clip.value', clip.value, 'must be > 0');
  if (clip.maxNorm !== undefined && !(Number.isFinite(clip.maxNorm) && clip.maxNorm > 0)) throw new AggregationConfigError('clip.maxNorm', clip.maxNorm, 'must be > 0');
  const k = sum.arena.kernels;
  const n = sum.offsets[paramCount]!;
  const sumsq = k.sumsq(sum.ptr, n);
  if (!Number.isFinite(sumsq)) {
    const at = k.first_nonfinite(sum.ptr, n);
    return skipAt(sum, at, sum.whole[at]!);
  }
  const inverse = Math.fround(1 / divisor);
  // Every |sum_i| ≤ ‖sum‖: below this bound no value of the mean can overflow.
  if (Math.sqrt(sumsq) * inverse >= FLOAT32_SAFE) {
    const at = firstOverflow(sum, paramCount, inverse);
    return skipAt(sum, at, Math.fround(sum.whole[at]! * inverse));
  }
  let norm: number;
  if (clip.value === undefined) norm = Math.sqrt(sumsq) / divisor;
  else norm = Math.sqrt(k.scale_clamp_sumsq(sum.ptr, n, inverse, Math.fround(clip.value)));
  const c = clip.maxNorm === undefined ? 1 : Math.min(1, clip.maxNorm / (norm + NORM_EPS));
  const gradScale = Math.fround(clip.value === undefined ? c / divisor : c);
  return { ok: true, preClipNorm: norm, postClipNorm: norm * c, gradScale };
}

function skipAt(sum: FlatVector, index: number, value: number): ReducedStep {
  const { part, element } = sum.locate(index);
  return { ok: false, nonFinite: [{ param: part, element, value }] };
}

/** The padded index of the first value whose mean overflows (rare: a divisor below 1). */
function firstOverflow(sum: FlatVector, paramCount: number, inverse: number): number {
  const n = sum.offsets[paramCount]!;
  for (let i = 0; i < n; i++) if (!Number.isFinite(Math.fround(sum.whole[i]! * inverse))) return i;
  return 0;
}
