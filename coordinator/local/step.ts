/**
 * One optimizer step in one process, done exactly as the coordinator does it with workers:
 *   micro-batches of the step (graph reduction 'sum', dropout masks from maskSeed(seed, step, j))
 *   → ordered sum in micro-batch index order → mean over the true sample count → non-finite check
 *   → clipping → optimizer; buffers (batch-norm running statistics) become the count-weighted
 *   mean of the micro-batches' updated values.
 * A non-finite gradient leaves parameters and buffers untouched.
 */
import type { TrainingRunner } from '../../shared/engine/runner.js';
import { maskSeed } from '../../shared/engine/dropout-masks.js';
import { gatherBatch } from '../../shared/data/batch.js';
import type { Subset } from '../../shared/data/split.js';
import { OrderedSum, reduceStep, meanDivisor, type ClipConfig, type NonFiniteLocation } from '../aggregate/index.js';
import { microbatchPositions, type EpochPlan, type StepPlan } from '../plan/index.js';
import type { Optimizer } from '../optim/index.js';

export interface StepState {
  params: Float32Array[];
  buffers: Float32Array[];
  readonly paramNames: readonly string[];
}

export interface StepContext {
  runner: TrainingRunner;
  optimizer: Optimizer;
  train: Subset;
  clip: ClipConfig;
  seed: number;
}

export interface StepOutcome {
  samples: number;
  /** Sum of the per-sample losses of the step's batch. */
  lossSum: number;
  /** argmax == label count; undefined when the graph has no `correct` output. */
  correct: number | undefined;
  /** Global L2 norm of the mean gradient before clipping; null when the step was skipped. */
  gradNorm: number | null;
  /** Where the first non-finite value of each offending micro-batch was; empty for a good step. */
  nonFinite: NonFiniteLocation[];
}

/**
 * Runs step `stepPlan` of `plan` (global step number `globalStep`) at learning rate `lr` and
 * updates `state` in place.
 */
export async function trainStep(ctx: StepContext, state: StepState, plan: EpochPlan, stepPlan: StepPlan, globalStep: number, lr: number): Promise<StepOutcome> {
  const { runner, train } = ctx;
  runner.setParams(state.params);
  runner.setBuffers(state.buffers);
  const sum = new OrderedSum(state.params.map((p) => p.length), stepPlan.microbatches.length, state.paramNames);
  const updates: { count: number; state: Float32Array[]; normalizers: number[] }[] = [];
  let lossSum = 0;
  let correct: number | undefined;
  for (const mb of stepPlan.microbatches) {
    const indices = microbatchPositions(plan, mb).map((pos) => train.indices[pos]!);
    const batch = gatherBatch(train.dataset, indices);
    const r = await runner.step(batch, maskSeed(ctx.seed, globalStep, mb.index));
    sum.add(mb.index, r.grads);
    lossSum += r.loss;
    if (r.correct !== undefined) correct = (correct ?? 0) + r.correct;
    updates.push({ count: batch.count, state: r.state, normalizers: r.headNormalizers });
  }
  // Same divisor as the cluster's TrainingRun: PyTorch's mean (aggregate/divisor.ts).
  const reduced = reduceStep(sum, meanDivisor(updates), ctx.clip);
  if (!reduced.ok) return { samples: stepPlan.samples, lossSum, correct, gradNorm: null, nonFinite: reduced.nonFinite };
  ctx.optimizer.update(state.params, reduced.grads, lr);
  averageBuffers(state.buffers, updates, stepPlan.samples);
  return { samples: stepPlan.samples, lossSum, correct, gradNorm: reduced.preClipNorm, nonFinite: [] };
}

/** buffer ← Σ_j count_j · state_j / Σ_j count_j, summed in micro-batch order in float64. */
function averageBuffers(buffers: Float32Array[], updates: readonly { count: number; state: Float32Array[] }[], total: number): void {
  buffers.forEach((buf, k) => {
    const acc = new Float64Array(buf.length);
    for (const u of updates) {
      const st = u.state[k]!;
      for (let i = 0; i < acc.length; i++) acc[i]! += u.count * st[i]!;
    }
    for (let i = 0; i < buf.length; i++) buf[i] = acc[i]! / total;
  });
}
