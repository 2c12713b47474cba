/**
 * The penalty terms that enter through the gradient (lecture, "Regularización L2 / L1"):
 *   L2: Ω(W) = α/2·WᵀW  ⇒ ∇Ω = α·W
 *   L1: Ω(W) = λ₁·Σ|wᵢ| ⇒ ∇Ω = λ₁·sign(W)   (sign(0) = 0: a weight at zero gets no push)
 * Both apply only to params whose spec says `decay` (weights); biases and batch-norm params are
 * left alone. AdamW's decoupled decay does not go through here (see adamw.ts).
 */
import type { ParamSpec } from './types.js';

/** The coefficients for one param: zero when the spec excludes it from decay. */
export interface Penalty {
  l2: number;
  l1: number;
}

export const NO_PENALTY: Readonly<Penalty> = Object.freeze({ l2: 0, l1: 0 });

/** α and λ₁ for `spec`, or zeros when it is excluded from decay. */
export function penaltyFor(spec: ParamSpec, l2: number, l1: number): Penalty {
  return spec.decay ? { l2, l1 } : NO_PENALTY;
}

/**
 * ∇E + α·w + λ₁·sign(w), in float64. Without L1 the sign term is skipped (Math.sign is a third of
 * an Adam update's time): λ₁·sign(w) is then a zero that leaves the sum's bits unchanged, since a
 * sum that could turn −0 into +0 is never −0 when w ≥ 0, and a NaN or infinite w already makes
 * α·w NaN.
 */
export function penalizedGradient(g: number, w: number, p: Penalty): number {
  return p.l1 === 0 ? g + p.l2 * w : g + p.l2 * w + p.l1 * Math.sign(w);
}
