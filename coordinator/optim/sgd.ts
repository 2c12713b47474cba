/**
 * Plain SGD with the lecture's coupled L2 and L1:
 *   W ← W − ε(∇E + α·W + λ₁·sign(W))
 */
import { SlotOptimizer } from './base.js';
import type { ResolvedOptimizerConfig } from './config.js';
import { penalizedGradient, penaltyFor } from './regularize.js';
import type { ParamSpec } from './types.js';

export class Sgd extends SlotOptimizer {
  constructor(
    private readonly cfg: ResolvedOptimizerConfig,
    specs: readonly ParamSpec[],
  ) {
    super('sgd', specs, []);
  }

  protected apply(params: Float32Array[], grads: Float32Array[], lr: number): void {
    this.specs.forEach((spec, p) => {
      const w = params[p]!;
      const g = grads[p]!;
      const pen = penaltyFor(spec, this.cfg.weightDecay, this.cfg.l1);
      for (let i = 0; i < w.length; i++) {
        w[i] = w[i]! - lr * penalizedGradient(g[i]!, w[i]!, pen);
      }
    });
  }
}
