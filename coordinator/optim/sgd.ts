/**
 * Plain SGD with the lecture's coupled L2 and L1:
 *   W ← W − ε(∇E + α·W + λ₁·sign(W))
 */
import type { Arena } from '../../shared/kernels/index.js';
import { SlotOptimizer, type Segment } from './base.js';
import type { ResolvedOptimizerConfig } from './config.js';
import { penaltyFor } from './regularize.js';
import type { ParamSpec } from './types.js';

export class Sgd extends SlotOptimizer {
  constructor(
    private readonly cfg: ResolvedOptimizerConfig,
    specs: readonly ParamSpec[],
    arena: Arena,
  ) {
    super('sgd', specs, [], arena);
  }

  protected applySegment(w: number, g: number, seg: Segment, lr: number, scale: number): void {
    const pen = penaltyFor(seg.decay, this.cfg.weightDecay, this.cfg.l1);
    this.arena.kernels.sgd(w, g, seg.count, Math.fround(lr), scale, pen.l2, pen.l1);
  }
}
