/**
 * SGD with heavy-ball momentum, as torch.optim.SGD(momentum=μ, dampening=0):
 *   g ← ∇E + α·W + λ₁·sign(W)
 *   v ← μ·v + g
 *   W ← W − ε·v
 * v starts at 0, so the first update is v = g (torch's "buf = g" on step 1).
 */
import type { Arena } from '../../shared/kernels/index.js';
import { SlotOptimizer, type Segment } from './base.js';
import type { ResolvedOptimizerConfig } from './config.js';
import { penaltyFor } from './regularize.js';
import type { ParamSpec } from './types.js';

export class Momentum extends SlotOptimizer {
  constructor(
    protected readonly cfg: ResolvedOptimizerConfig,
    specs: readonly ParamSpec[],
    arena: Arena,
    kind: 'momentum' | 'nesterov' = 'momentum',
  ) {
    super(kind, specs, ['velocity'], arena);
  }

  protected applySegment(w: number, g: number, seg: Segment, lr: number, scale: number): void {
    const pen = penaltyFor(seg.decay, this.cfg.weightDecay, this.cfg.l1);
    const nesterov = this.kind === 'nesterov' ? 1 : 0;
    this.arena.kernels.momentum(w, g, this.slot('velocity', seg), seg.count, Math.fround(lr), Math.fround(this.cfg.momentum), scale, pen.l2, pen.l1, nesterov);
  }
}
