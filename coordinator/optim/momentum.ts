/**
 * SGD with heavy-ball momentum, as torch.optim.SGD(momentum=μ, dampening=0):
 *   g ← ∇E + α·W + λ₁·sign(W)
 *   v ← μ·v + g
 *   W ← W − ε·v
 * v starts at 0, so the first update is v = g (torch's "buf = g" on step 1).
 */
import { SlotOptimizer } from './base.js';
import type { ResolvedOptimizerConfig } from './config.js';
import { penalizedGradient, penaltyFor } from './regularize.js';
import type { ParamSpec } from './types.js';

export class Momentum extends SlotOptimizer {
  constructor(
    private readonly cfg: ResolvedOptimizerConfig,
    specs: readonly ParamSpec[],
  ) {
    super('momentum', specs, ['velocity']);
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
        // Round v to float32 before using it, as the stored slot is what a restore sees.
        const vi = Math.fround(mu * v[i]! + gi);
        v[i] = vi;
        w[i] = w[i]! - lr * vi;
      }
    });
  }
}
