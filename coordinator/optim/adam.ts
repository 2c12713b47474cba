/**
 * Adam, as torch.optim.Adam (amsgrad off), with the lecture's coupled L2 and L1 in the gradient:
 *   g  ← ∇E + α·W + λ₁·sign(W)
 *   m  ← β₁·m + (1 − β₁)·g
 *   v  ← β₂·v + (1 − β₂)·g²
 *   W  ← W − (ε / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + eps)        (t = 1, 2, …)
 * which is W − ε·m̂/(√v̂ + eps) with m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ), written as torch does.
 * AdamW (adamw.ts) reuses this loop and only changes where the decay goes.
 */
import { SlotOptimizer } from './base.js';
import type { ResolvedOptimizerConfig } from './config.js';
import { powInt } from './pow.js';
import { penalizedGradient, penaltyFor, type Penalty } from './regularize.js';
import type { ParamSpec } from './types.js';

export class Adam extends SlotOptimizer {
  constructor(
    protected readonly cfg: ResolvedOptimizerConfig,
    specs: readonly ParamSpec[],
    kind: 'adam' | 'adamw' = 'adam',
  ) {
    super(kind, specs, ['m', 'v']);
  }

  /** The penalty that enters through the gradient. */
  protected penalty(spec: ParamSpec): Penalty {
    return penaltyFor(spec, this.cfg.weightDecay, this.cfg.l1);
  }

  /** Factor W is multiplied by before the Adam step: 1 here (no decoupled decay). */
  protected shrink(_spec: ParamSpec, _lr: number): number {
    return 1;
  }

  protected apply(params: Float32Array[], grads: Float32Array[], lr: number, step: number): void {
    const { beta1, beta2, eps } = this.cfg;
    const bias1 = 1 - powInt(beta1, step);
    const bias2 = 1 - powInt(beta2, step);
    const stepSize = lr / bias1;
    const sqrtBias2 = Math.sqrt(bias2);
    const ms = this.slots['m']!;
    const vs = this.slots['v']!;
    this.specs.forEach((spec, p) => {
      const w = params[p]!;
      const g = grads[p]!;
      const m = ms[p]!;
      const v = vs[p]!;
      const pen = this.penalty(spec);
      const keep = this.shrink(spec, lr);
      for (let i = 0; i < w.length; i++) {
        const gi = penalizedGradient(g[i]!, w[i]!, pen);
        const mi = Math.fround(beta1 * m[i]! + (1 - beta1) * gi);
        const vi = Math.fround(beta2 * v[i]! + (1 - beta2) * gi * gi);
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i]! * keep - (stepSize * mi) / (Math.sqrt(vi) / sqrtBias2 + eps);
      }
    });
  }
}
