/** The contract of the optimizer math (coordinator side). */
import type { FlatVector } from '../../shared/kernels/index.js';

export interface ParamSpec {
  name: string;
  /** Number of float32 values. */
  size: number;
  /** Whether weight decay / L1 apply (weights yes; biases and batch-norm params no, by default). */
  decay: boolean;
}

export type OptimizerKind = 'sgd' | 'momentum' | 'nesterov' | 'adam' | 'adamw';

export interface OptimizerConfig {
  kind: OptimizerKind;
  /** momentum / nesterov: velocity coefficient. */
  momentum?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /**
   * L2 weight decay α. sgd/momentum/nesterov/adam: coupled, added to the gradient (W ← W − ε(αW + ∇E));
   * adamw: decoupled (W ← W − ε·α·W, separately from the Adam step).
   */
  weightDecay?: number;
  /** L1 coefficient: α·sign(W) added to the gradient. */
  l1?: number;
}

export interface Optimizer {
  readonly kind: OptimizerKind;
  /** Updates applied so far (1 after the first update). */
  readonly step: number;
  /**
   * Updates `params` in place from the step's gradient, at learning rate lr. Both are vectors of
   * the optimizer's arena; `grads` holds the params' gradients first (it may hold more tensors
   * after them, the weighted buffer states). The optimizer applies grads·gradScale, rounded to
   * float32: gradScale carries the mean's 1/divisor and the global-norm clip factor
   * (aggregate/reduce-step.ts); 1 when `grads` already is the clipped mean.
   */
  update(params: FlatVector, grads: FlatVector, lr: number, gradScale?: number): void;
  /** Everything needed to continue bit-identically (moments, step count), as copies. */
  saveState(): OptimizerState;
  loadState(state: OptimizerState): void;
}

export interface OptimizerState {
  kind: OptimizerKind;
  step: number;
  /** Per-parameter slots (velocity, m, v), same order as the params. */
  slots: Record<string, Float32Array[]>;
}

/** Linear warm-up in front of any schedule: the first `steps` updates ramp up to the schedule's lr. */
export interface WarmupConfig {
  /** Number of warm-up updates (0 = no warm-up). */
  steps: number;
  /** Fraction of the peak lr at the start of the ramp (default 0): update s < steps uses lr·(f + (1 − f)·(s + 1)/steps). */
  startFactor?: number;
}

/**
 * A learning-rate schedule. `lr` is the peak (post-warm-up) rate. After a warm-up of W updates the
 * schedule's own clock starts at 0, i.e. update s uses the schedule at s − W.
 */
export type LrScheduleConfig =
  | { kind: 'constant'; lr: number; warmup?: WarmupConfig }
  /** lr·gamma^⌊(s − W)/stepSize⌋ (torch StepLR). */
  | { kind: 'step'; lr: number; stepSize: number; gamma: number; warmup?: WarmupConfig }
  /** minLr + (lr − minLr)·(1 + cos(π·p))/2 with p = (s − W)/(totalSteps − W), held at minLr after totalSteps. */
  | { kind: 'cosine'; lr: number; totalSteps: number; minLr?: number; warmup?: WarmupConfig };

export type LrScheduleKind = LrScheduleConfig['kind'];
