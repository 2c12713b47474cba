/**
 * SGD with Nesterov momentum, as torch.optim.SGD(momentum=μ, nesterov=True):
 *   g ← ∇E + α·W + λ₁·sign(W)
 *   v ← μ·v + g
 *   W ← W − ε·(g + μ·v)
 * (The look-ahead gradient is approximated by stepping along the updated velocity once more.)
 */
import { SlotOptimizer } from './base.js';
import type { ResolvedOptimizerConfig } from './config.js';
import { penalizedGradient, penaltyFor } from './regularize.js';
import type { ParamSpec } from './types.js';

export class Nesterov extends SlotOptimizer {
  constructor(
    private readonly cfg: ResolvedOptimizerConfig,
    specs: readonly ParamSpec[],
  ) {
    super('nesterov', specs, ['velocity']);
  }

  protected apply(params: Float32Array[], grads: Float32Array[], lr: number): void {
    const mu = this.cfg.momentum;
    const velocity = this.slots['velocity']!;
    this.specs.forEach((spec, p) => {
      const w = params[p]!;
      const g = grads[p]!;
      const v = velocity[p]!;
      const pen = penaltyFor(spec, this.cfg.weightDecay, this.cfg.l1);
      for (let i = 0; i < w.length; i++) {
        const gi = penalizedGradient(g[i]!, w[i]!, pen);
        const vi = Math.fround(mu * v[i]! + gi);
        v[i] = vi;
        w[i] = w[i]! - lr * (gi + mu * vi);
      }
    });
  }
}
