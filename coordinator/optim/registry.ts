/**
 * Optimizer kind → implementation. The contract is types.ts; each kind lives in its own file.
 */
import { Adam } from './adam.js';
import { AdamW } from './adamw.js';
import { resolveOptimizerConfig, type ResolvedOptimizerConfig } from './config.js';
import { Momentum } from './momentum.js';
import { Nesterov } from './nesterov.js';
import { Sgd } from './sgd.js';
import type { Optimizer, OptimizerConfig, OptimizerKind, ParamSpec } from './types.js';

type Factory = (cfg: ResolvedOptimizerConfig, specs: readonly ParamSpec[]) => Optimizer;

const FACTORIES: Record<OptimizerKind, Factory> = {
  sgd: (cfg, specs) => new Sgd(cfg, specs),
  momentum: (cfg, specs) => new Momentum(cfg, specs),
  nesterov: (cfg, specs) => new Nesterov(cfg, specs),
  adam: (cfg, specs) => new Adam(cfg, specs),
  adamw: (cfg, specs) => new AdamW(cfg, specs),
};

/**
 * Builds the optimizer for `cfg` over params described by `specs` (same order as the arrays
 * later passed to update). Defaults are filled and ranges checked first.
 * @throws OptimizerConfigError for a bad field, ParamShapeError for a bad spec.
 */
export function createOptimizer(cfg: OptimizerConfig, specs: readonly ParamSpec[]): Optimizer {
  const resolved = resolveOptimizerConfig(cfg);
  return FACTORIES[resolved.kind](resolved, specs);
}
