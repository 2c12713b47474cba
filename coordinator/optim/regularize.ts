/**
 * The penalty terms that enter through the gradient (lecture, "Regularización L2 / L1"):
 *   L2: Ω(W) = α/2·WᵀW  ⇒ ∇Ω = α·W
 *   L1: Ω(W) = λ₁·Σ|wᵢ| ⇒ ∇Ω = λ₁·sign(W)   (sign(0) = 0: a weight at zero gets no push)
 * Both apply only to params whose spec says `decay` (weights); biases and batch-norm params are
 * left alone. The kernels add a term only where its coefficient is not 0. AdamW's decoupled
 * decay does not go through here (see adamw.ts).
 */

/** The coefficients for one segment, as float32: zero when its params are excluded from decay. */
export interface Penalty {
  l2: number;
  l1: number;
}

/** α and λ₁ for a segment, or zeros when it is excluded from decay. */
export function penaltyFor(decay: boolean, l2: number, l1: number): Penalty {
  return decay ? { l2: Math.fround(l2), l1: Math.fround(l1) } : { l2: 0, l1: 0 };
}
