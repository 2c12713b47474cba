/**
 * Optimizer kind → implementation. The contract is types.ts; each kind lives in its own file.
 */
import type { Arena } from '../../shared/kernels/index.js';
import { Adam } from './adam.js';
import { AdamW } from './adamw.js';
import { resolveOptimizerConfig, type ResolvedOptimizerConfig } from './config.js';
import { Momentum } from './momentum.js';
import { Nesterov } from './nesterov.js';
import { Sgd } from './sgd.js';
import type { Optimizer, OptimizerConfig, OptimizerKind, ParamSpec } from './types.js';

type Factory = (cfg: ResolvedOptimizerConfig, specs: readonly ParamSpec[], arena: Arena) => Optimizer;

const FACTORIES: Record<OptimizerKind, Factory> = {
  sgd: (cfg, specs, arena) => new Sgd(cfg, specs, arena),
  momentum: (cfg, specs, arena) => new Momentum(cfg, specs, arena),
  nesterov: (cfg, specs, arena) => new Nesterov(cfg, specs, arena),
  adam: (cfg, specs, arena) => new Adam(cfg, specs, arena),
  adamw: (cfg, specs, arena) => new AdamW(cfg, specs, arena),
};

/**
 * Builds the optimizer for `cfg` over params described by `specs` (the tensors, in order, of the
 * vectors later passed to update), with its slots in `arena`, where the params and gradients it
 * updates must live too. Defaults are filled and ranges checked first.
 * @throws OptimizerConfigError for a bad field, ParamShapeError for a bad spec.
 */
export function createOptimizer(cfg: OptimizerConfig, specs: readonly ParamSpec[], arena: Arena): Optimizer {
  const resolved = resolveOptimizerConfig(cfg);
  return FACTORIES[resolved.kind](resolved, specs, arena);
}
