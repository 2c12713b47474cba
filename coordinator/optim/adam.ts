/**
 * Adam, as torch.optim.Adam (amsgrad off), with the lecture's coupled L2 and L1 in the gradient:
 *   g  ← ∇E + α·W + λ₁·sign(W)
 *   m  ← β₁·m + (1 − β₁)·g
 *   v  ← β₂·v + (1 − β₂)·g²
 *   W  ← W − (ε / (1 − β₁ᵗ)) · m / (√v · (1/√(1 − β₂ᵗ)) + eps)        (t = 1, 2, …)
 * which is W − ε·m̂/(√v̂ + eps) with m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ), written as torch does
 * but for one division turned into a multiplication (float32 throughout: step-kernels.wat).
 * AdamW (adamw.ts) reuses this kernel and only changes where the decay goes.
 */
import type { Arena } from '../../shared/kernels/index.js';
import { SlotOptimizer, type Segment } from './base.js';
import type { ResolvedOptimizerConfig } from './config.js';
import { powInt } from './pow.js';
import { penaltyFor, type Penalty } from './regularize.js';
import type { ParamSpec } from './types.js';

const f = Math.fround;

export class Adam extends SlotOptimizer {
  constructor(
    protected readonly cfg: ResolvedOptimizerConfig,
    specs: readonly ParamSpec[],
    arena: Arena,
    kind: 'adam' | 'adamw' = 'adam',
  ) {
    super(kind, specs, ['m', 'v'], arena);
  }

  /** The penalty that enters through the gradient. */
  protected penalty(decay: boolean): Penalty {
    return penaltyFor(decay, this.cfg.weightDecay, this.cfg.l1);
  }

  /** Factor W is multiplied by before the Adam step: 1 here (no decoupled decay). */
  protected keep(_decay: boolean, _lr: number): number {
    return 1;
  }

  protected applySegment(w: number, g: number, seg: Segment, lr: number, scale: number, step: number): void {
    const { beta1, beta2, eps } = this.cfg;
    const pen = this.penalty(seg.decay);
    this.arena.kernels.adam(
      w,
      g,
      this.slot('m', seg),
      this.slot('v', seg),
      seg.count,
      f(beta1),
      f(1 - beta1),
      f(beta2),
      f(1 - beta2),
      f(lr / (1 - powInt(beta1, step))),
      f(1 / Math.sqrt(1 - powInt(beta2, step))),
      f(eps),
      f(this.keep(seg.decay, lr)),
      scale,
      pen.l2,
      pen.l1,
    );
  }
}
