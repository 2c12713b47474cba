/**
 * Optimizer config → defaults → validated numbers. Defaults are torch's (torch.optim.SGD, Adam,
 * AdamW), except that 'momentum' and 'nesterov' default to μ = 0.9, since choosing those kinds
 * means momentum is wanted (torch's default μ = 0 would make them plain SGD).
 */
import { OptimizerConfigError } from './errors.js';
import type { OptimizerConfig, OptimizerKind } from './types.js';

/** Every coefficient of an optimizer, with defaults filled in and ranges checked. */
export interface ResolvedOptimizerConfig {
  kind: OptimizerKind;
  momentum: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** L2 α (coupled) or, for AdamW, the decoupled decay λ. */
  weightDecay: number;
  l1: number;
}

export const OPTIMIZER_KINDS: readonly OptimizerKind[] = ['sgd', 'momentum', 'nesterov', 'adam', 'adamw'];

const DEFAULTS = {
  momentum: 0.9,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  /** torch.optim.AdamW's default; every other kind defaults to no decay. */
  adamwWeightDecay: 0.01,
} as const;

/**
 * Fills defaults and checks ranges. Fields that a kind does not use (beta1 for SGD, say) are
 * ignored, so one job file can switch kinds without editing the rest.
 * @throws OptimizerConfigError naming the field and the bad value.
 */
export function resolveOptimizerConfig(cfg: OptimizerConfig, path = 'optimizer'): ResolvedOptimizerConfig {
  if (!OPTIMIZER_KINDS.includes(cfg.kind)) {
    throw new OptimizerConfigError(`${path}.kind`, cfg.kind, `must be one of ${OPTIMIZER_KINDS.join(', ')}`);
  }
  const r: ResolvedOptimizerConfig = {
    kind: cfg.kind,
    momentum: cfg.momentum ?? DEFAULTS.momentum,
    beta1: cfg.beta1 ?? DEFAULTS.beta1,
    beta2: cfg.beta2 ?? DEFAULTS.beta2,
    eps: cfg.eps ?? DEFAULTS.eps,
    weightDecay: cfg.weightDecay ?? (cfg.kind === 'adamw' ? DEFAULTS.adamwWeightDecay : 0),
    l1: cfg.l1 ?? 0,
  };
  requireRange(`${path}.weightDecay`, r.weightDecay, 0, Infinity, 'must be ≥ 0');
  requireRange(`${path}.l1`, r.l1, 0, Infinity, 'must be ≥ 0');
  if (r.kind === 'momentum') requireRange(`${path}.momentum`, r.momentum, 0, 1, 'must be in [0, 1)');
  if (r.kind === 'nesterov') {
    // Nesterov with μ = 0 is plain SGD; torch rejects it too.
    requireRange(`${path}.momentum`, r.momentum, 0, 1, 'must be in (0, 1) for nesterov');
    if (r.momentum === 0) throw new OptimizerConfigError(`${path}.momentum`, r.momentum, 'must be in (0, 1) for nesterov');
  }
  if (r.kind === 'adam' || r.kind === 'adamw') {
    requireRange(`${path}.beta1`, r.beta1, 0, 1, 'must be in [0, 1)');
    requireRange(`${path}.beta2`, r.beta2, 0, 1, 'must be in [0, 1)');
    if (!(Number.isFinite(r.eps) && r.eps > 0)) throw new OptimizerConfigError(`${path}.eps`, r.eps, 'must be > 0');
  }
  return r;
}

/** lo ≤ v < hi (hi = Infinity means any finite v ≥ lo). */
function requireRange(field: string, v: number, lo: number, hi: number, requirement: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v >= hi) throw new OptimizerConfigError(field, v, requirement);
}
