/**
 * Global-norm and per-value gradient clipping, in place, in a fixed order.
 *
 *   ‖g‖ = √(Σ_p Σ_i g_pi²)          summed in float64, params in order, elements in order
 *   clip by norm (torch.nn.utils.clip_grad_norm_):  c = maxNorm/(‖g‖ + 1e-6);  if c < 1: g ← c·g
 *   clip by value: g ← min(max(g, −limit), limit)
 */
import { AggregationConfigError, NonFiniteGradientError } from './errors.js';

/** What clipping by global norm did. */
export interface NormClipResult {
  /** ‖g‖ before clipping. */
  preClipNorm: number;
  /** ‖g‖ after clipping (recomputed from the stored float32 values). */
  postClipNorm: number;
  /** The factor every gradient was multiplied by (1 when not clipped). */
  scale: number;
  clipped: boolean;
}

/** torch's guard against dividing by a zero norm; it also keeps the clipped norm just under maxNorm. */
const NORM_EPS = 1e-6;

/** The L2 norm of all gradients together, accumulated in float64 in parameter then element order. */
export function globalNorm(grads: readonly ArrayLike<number>[]): number {
  let sumSq = 0;
  for (const g of grads) {
    for (let i = 0; i < g.length; i++) sumSq += g[i]! * g[i]!;
  }
  return Math.sqrt(sumSq);
}

/**
 * Scales all gradients in place so that their global norm is at most maxNorm.
 * @throws NonFiniteGradientError when the norm is NaN or ±Inf (check findNonFinite first and skip the step).
 */
export function clipByGlobalNorm(grads: Float32Array[], maxNorm: number): NormClipResult {
  if (!(Number.isFinite(maxNorm) && maxNorm > 0)) throw new AggregationConfigError('clip.maxNorm', maxNorm, 'must be > 0');
  const preClipNorm = globalNorm(grads);
  if (!Number.isFinite(preClipNorm)) {
    throw new NonFiniteGradientError(`gradient norm is ${preClipNorm}: a gradient holds NaN or Inf, the step must be skipped`);
  }
  const scale = maxNorm / (preClipNorm + NORM_EPS);
  if (scale >= 1) return { preClipNorm, postClipNorm: preClipNorm, scale: 1, clipped: false };
  for (const g of grads) {
    for (let i = 0; i < g.length; i++) g[i] = g[i]! * scale;
  }
  return { preClipNorm, postClipNorm: globalNorm(grads), scale, clipped: true };
}

/**
 * Clamps every gradient value to [−limit, limit] in place; returns how many values were changed.
 * NaN stays NaN: find non-finite values before clipping.
 */
export function clipByValue(grads: Float32Array[], limit: number): number {
  if (!(Number.isFinite(limit) && limit > 0)) throw new AggregationConfigError('clip.value', limit, 'must be > 0');
  // The clamp bounds as float32, so a value equal to the limit after storage is not counted.
  const hi = Math.fround(limit);
  const lo = -hi;
  let changed = 0;
  for (const g of grads) {
    for (let i = 0; i < g.length; i++) {
      const x = g[i]!;
      if (x > hi) {
        g[i] = hi;
        changed++;
      } else if (x < lo) {
        g[i] = lo;
        changed++;
      }
    }
  }
  return changed;
}
