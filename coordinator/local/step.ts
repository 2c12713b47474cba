/**
 * One optimizer step in one process, done exactly as the cluster does it:
 *   micro-batches of the step (graph reduction 'sum', dropout masks from maskSeed(seed, step, j))
 *   → leaves added over the reduction tree (shared/reduction) → mean over the summed loss
 *   normalizers → non-finite check → clipping → optimizer; buffers (batch-norm running
 *   statistics) become the count-weighted mean of the micro-batches' updated values.
 * A non-finite gradient leaves parameters and buffers untouched.
 */
import type { TrainingRunner } from '../../shared/engine/runner.js';
import { maskSeed } from '../../shared/engine/dropout-masks.js';
import { computeLeaf, type LeafStats } from '../../shared/engine/leaf.js';
import { gatherBatch, type BatchMemory } from '../../shared/data/batch.js';
import type { Subset } from '../../shared/data/split.js';
import type { Arena, FlatVector } from '../../shared/kernels/index.js';
import { reduceNode, rootOf } from '../../shared/reduction/index.js';
import { reduceGradient, meanDivisor, averageBuffers, type ClipConfig, type NonFiniteLocation } from '../aggregate/index.js';
import { microbatchPositions, type EpochPlan, type StepPlan } from '../plan/index.js';
import type { Optimizer } from '../optim/index.js';

export interface StepState {
  /** A fixed arena: the runner reads the params from it and writes gradients into it. */
  arena: Arena;
  params: FlatVector;
  /** Batch-norm running statistics (small: kept outside the arena). */
  buffers: Float32Array[];
  readonly paramNames: readonly string[];
  /** Tensor sizes of a leaf: every param's gradient, then every buffer. */
  readonly leafSizes: readonly number[];
}

export interface StepContext {
  runner: TrainingRunner;
  /** Kept from step to step: the batches are gathered into it. */
  batchMemory: BatchMemory;
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
 * updates `state` in place. The runner must be fed `state.params.parts` and `state.buffers`
 * (they are updated in place, so once is enough).
 */
export async function trainStep(ctx: StepContext, state: StepState, plan: EpochPlan, stepPlan: StepPlan, globalStep: number, lr: number): Promise<StepOutcome> {
  const { runner, train } = ctx;
  const k = stepPlan.microbatches.length;
  const leaves: LeafStats[] = [];
  const sum = await reduceNode(rootOf(k), k, state.arena, state.leafSizes, async (j, into) => {
    const indices = microbatchPositions(plan, stepPlan.microbatches[j]!).map((pos) => train.indices[pos]!);
    leaves[j] = await computeLeaf(runner, gatherBatch(train.dataset, indices, ctx.batchMemory), indices, maskSeed(ctx.seed, globalStep, j), into);
  });
  try {
    let lossSum = 0;
    let correct: number | undefined;
    for (const leaf of leaves) {
      lossSum += leaf.loss;
      if (leaf.correct !== undefined) correct = (correct ?? 0) + leaf.correct;
    }
    const skipped = (nonFinite: NonFiniteLocation[]): StepOutcome => ({ samples: stepPlan.samples, lossSum, correct, gradNorm: null, nonFinite });
    const bad = leaves.flatMap((leaf, microbatch) => (leaf.nonFinite ? [{ microbatch, ...leaf.nonFinite }] : []));
    if (bad.length > 0) return skipped(bad);
    // Same divisor as the cluster's TrainingRun: PyTorch's mean (aggregate/divisor.ts).
    const divisor = meanDivisor(leaves.map((l) => ({ count: l.count, normalizers: l.headNormalizers })));
    const paramCount = state.params.parts.length;
    const reduced = reduceGradient(sum, paramCount, divisor, ctx.clip);
    if (!reduced.ok) return skipped(reduced.nonFinite);
    ctx.optimizer.update(state.params, sum, lr, reduced.gradScale);
    averageBuffers(state.buffers, sum.parts.slice(paramCount), stepPlan.samples);
    return { samples: stepPlan.samples, lossSum, correct, gradNorm: reduced.preClipNorm, nonFinite: [] };
  } finally {
    state.arena.release(sum);
  }
}
