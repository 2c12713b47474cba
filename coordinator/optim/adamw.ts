/**
 * AdamW (Loshchilov & Hutter), as torch.optim.AdamW: the weight decay λ is decoupled from the
 * gradient and applied to the weights directly, before the Adam step:
 *   W ← W·(1 − ε·λ)                       (only params with spec.decay)
 *   then the Adam step of adam.ts with g = ∇E + λ₁·sign(W)   (L1, if set, stays in the gradient)
 * so the decay is not rescaled by 1/√v̂ as coupled L2 would be.
 */
import type { Arena } from '../../shared/kernels/index.js';
import { Adam } from './adam.js';
import type { ResolvedOptimizerConfig } from './config.js';
import { penaltyFor, type Penalty } from './regularize.js';
import type { ParamSpec } from './types.js';

export class AdamW extends Adam {
  constructor(cfg: ResolvedOptimizerConfig, specs: readonly ParamSpec[], arena: Arena) {
    super(cfg, specs, arena, 'adamw');
  }

  protected override penalty(decay: boolean): Penalty {
    return penaltyFor(decay, 0, this.cfg.l1);
  }

  protected override keep(decay: boolean, lr: number): number {
    return decay ? 1 - lr * this.cfg.weightDecay : 1;
  }
}
