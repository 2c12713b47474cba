/**
 * Learning-rate schedules: a pure function of the update index.
 *
 * Step s counts updates already applied: the first update uses lrAt(0). A warm-up of W updates
 * ramps linearly to the peak lr, reaching it at s = W − 1:
 *   s < W:  lr·(f + (1 − f)·(s + 1)/W)      (f = warmup.startFactor, default 0)
 * after which the schedule runs on its own clock u = s − W:
 *   constant: lr
 *   step:     lr·γ^⌊u/stepSize⌋                                   (torch StepLR)
 *   cosine:   minLr + (lr − minLr)·(1 + cos(π·min(1, u/(T − W))))/2, T = totalSteps (warm-up included)
 *
 * γ^k uses repeated squaring (pow.ts) so the value does not depend on the engine's Math.pow.
 * Math.cos is V8's fdlibm port; the schedule is only evaluated on the coordinator, which also
 * records the step in checkpoints, so a resumed run evaluates the same function at the same step.
 */
import { OptimizerConfigError } from './errors.js';
import { powInt } from './pow.js';
import type { LrScheduleConfig } from './types.js';

/** A validated schedule: update index → learning rate. */
export type LrSchedule = (step: number) => number;

/**
 * Validates `cfg` once and returns the schedule.
 * @throws OptimizerConfigError naming the field (`schedule.stepSize`, …) and the bad value.
 */
export function lrSchedule(cfg: LrScheduleConfig, path = 'schedule'): LrSchedule {
  validateSchedule(cfg, path);
  const warmupSteps = cfg.warmup?.steps ?? 0;
  const startFactor = cfg.warmup?.startFactor ?? 0;
  const main = mainSchedule(cfg, warmupSteps);
  return (step: number): number => {
    if (!Number.isInteger(step) || step < 0) throw new OptimizerConfigError('step', step, 'must be an integer ≥ 0');
    if (step < warmupSteps) return main(0) * (startFactor + ((1 - startFactor) * (step + 1)) / warmupSteps);
    return main(step - warmupSteps);
  };
}

/** The learning rate for update `step` under `cfg` (validates `cfg` on every call). */
export function lrAt(cfg: LrScheduleConfig, step: number): number {
  return lrSchedule(cfg)(step);
}

function mainSchedule(cfg: LrScheduleConfig, warmupSteps: number): LrSchedule {
  switch (cfg.kind) {
    case 'constant':
      return () => cfg.lr;
    case 'step':
      return (u) => cfg.lr * powInt(cfg.gamma, Math.floor(u / cfg.stepSize));
    case 'cosine': {
      const minLr = cfg.minLr ?? 0;
      const span = cfg.totalSteps - warmupSteps;
      return (u) => {
        const progress = Math.min(1, u / span);
        return minLr + ((cfg.lr - minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
      };
    }
  }
}

function validateSchedule(cfg: LrScheduleConfig, path: string): void {
  const kinds = ['constant', 'step', 'cosine'];
  if (!kinds.includes(cfg.kind)) throw new OptimizerConfigError(`${path}.kind`, cfg.kind, `must be one of ${kinds.join(', ')}`);
  if (!(Number.isFinite(cfg.lr) && cfg.lr > 0)) throw new OptimizerConfigError(`${path}.lr`, cfg.lr, 'must be > 0');
  const warmupSteps = cfg.warmup?.steps ?? 0;
  if (!(Number.isInteger(warmupSteps) && warmupSteps >= 0)) {
    throw new OptimizerConfigError(`${path}.warmup.steps`, warmupSteps, 'must be an integer ≥ 0');
  }
  const startFactor = cfg.warmup?.startFactor ?? 0;
  if (!(Number.isFinite(startFactor) && startFactor >= 0 && startFactor <= 1)) {
    throw new OptimizerConfigError(`${path}.warmup.startFactor`, startFactor, 'must be in [0, 1]');
  }
  if (cfg.kind === 'step') {
    if (!(Number.isInteger(cfg.stepSize) && cfg.stepSize >= 1)) {
      throw new OptimizerConfigError(`${path}.stepSize`, cfg.stepSize, 'must be an integer ≥ 1');
    }
    if (!(Number.isFinite(cfg.gamma) && cfg.gamma > 0)) throw new OptimizerConfigError(`${path}.gamma`, cfg.gamma, 'must be > 0');
  }
  if (cfg.kind === 'cosine') {
    if (!(Number.isInteger(cfg.totalSteps) && cfg.totalSteps > warmupSteps)) {
      throw new OptimizerConfigError(`${path}.totalSteps`, cfg.totalSteps, `must be an integer > warmup.steps (${warmupSteps})`);
    }
    const minLr = cfg.minLr ?? 0;
    if (!(Number.isFinite(minLr) && minLr >= 0 && minLr <= cfg.lr)) {
      throw new OptimizerConfigError(`${path}.minLr`, minLr, `must be in [0, lr = ${cfg.lr}]`);
    }
  }
}
