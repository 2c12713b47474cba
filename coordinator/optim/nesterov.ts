/**
 * SGD with Nesterov momentum, as torch.optim.SGD(momentum=μ, nesterov=True):
 *   g ← ∇E + α·W + λ₁·sign(W)
 *   v ← μ·v + g
 *   W ← W − ε·(g + μ·v)
 * (The look-ahead gradient is approximated by stepping along the updated velocity once more.)
 * The momentum kernel does both; this class only names the kind.
 */
import type { Arena } from '../../shared/kernels/index.js';
import type { ResolvedOptimizerConfig } from './config.js';
import { Momentum } from './momentum.js';
import type { ParamSpec } from './types.js';

export class Nesterov extends Momentum {
  constructor(cfg: ResolvedOptimizerConfig, specs: readonly ParamSpec[], arena: Arena) {
    super(cfg, specs, arena, 'nesterov');
  }
}
