/**
 * The epoch plan: which samples each step and each micro-batch of that step trains on.
 *
 *   order  = seeded permutation of 0..trainSize−1 (seed = deriveSeed(jobSeed, 'epoch', epoch))
 *   step s = order[s·B .. min((s+1)·B, N)),              B = globalBatch
 *   micro-batch j of a step = the step's range cut every b positions, b = microBatch
 *
 * Boundaries depend only on (N, B, b, seed, epoch), never on how many workers there are, so
 * any worker may compute any micro-batch and the step's gradient does not change. The last
 * step keeps its true size (N mod B) and so may its last micro-batch; the aggregation divides by
 * the true count.
 */
import { Rng } from '../../shared/random.js';
import { PlanError } from './errors.js';
import { SeedStream, deriveSeed } from './seeds.js';

/** A range of positions in the epoch's `order`: samples order[start..end). */
export interface MicrobatchPlan {
  /** Index of the micro-batch within its step (0..k−1): the aggregation order. */
  index: number;
  start: number;
  end: number;
}

export interface StepPlan {
  /** Index of the step within the epoch. */
  index: number;
  start: number;
  end: number;
  /** Number of samples in the step (end − start). */
  samples: number;
  microbatches: MicrobatchPlan[];
}

export interface EpochPlan {
  epoch: number;
  /** Seed the permutation was drawn from. */
  seed: number;
  /** The epoch's sample order: a permutation of 0..trainSize−1 (positions into the training set). */
  order: Uint32Array;
  steps: StepPlan[];
}

/** ⌈trainSize / globalBatch⌉: the last, partial batch is a step of its own. */
export function stepsPerEpoch(trainSize: number, globalBatch: number): number {
  checkSizes(trainSize, globalBatch, globalBatch);
  return Math.ceil(trainSize / globalBatch);
}

/** The seeded sample order of `epoch`: a permutation of 0..trainSize−1. */
export function epochOrder(trainSize: number, jobSeed: number, epoch: number): Uint32Array {
  if (!Number.isInteger(epoch) || epoch < 0) throw new PlanError('epoch', epoch, 'must be an integer ≥ 0');
  return Rng.seeded(deriveSeed(jobSeed, SeedStream.epoch, epoch) | 0).permutation(trainSize);
}

/**
 * Plans one epoch.
 * @param trainSize N, number of training samples (positions 0..N−1)
 * @param globalBatch B, samples per optimizer step
 * @param microBatch b ≤ B, samples per unit of work
 * @param jobSeed the run's seed
 * @param epoch 0-based epoch number
 */
export function planEpoch(trainSize: number, globalBatch: number, microBatch: number, jobSeed: number, epoch: number): EpochPlan {
  checkSizes(trainSize, globalBatch, microBatch);
  const order = epochOrder(trainSize, jobSeed, epoch);
  const steps: StepPlan[] = [];
  for (let start = 0, index = 0; start < trainSize; start += globalBatch, index++) {
    const end = Math.min(start + globalBatch, trainSize);
    const microbatches: MicrobatchPlan[] = [];
    for (let m = start, j = 0; m < end; m += microBatch, j++) microbatches.push({ index: j, start: m, end: Math.min(m + microBatch, end) });
    steps.push({ index, start, end, samples: end - start, microbatches });
  }
  return { epoch, seed: deriveSeed(jobSeed, SeedStream.epoch, epoch), order, steps };
}

/** The training-set positions of one micro-batch (a view into plan.order, not a copy). */
export function microbatchPositions(plan: EpochPlan, mb: MicrobatchPlan): Uint32Array {
  return plan.order.subarray(mb.start, mb.end);
}

function checkSizes(trainSize: number, globalBatch: number, microBatch: number): void {
  if (!Number.isInteger(trainSize) || trainSize < 1 || trainSize > 2 ** 32 - 1) {
    throw new PlanError('trainSize', trainSize, 'must be an integer in [1, 2³² − 1]');
  }
  if (!Number.isInteger(globalBatch) || globalBatch < 1) throw new PlanError('batch.global', globalBatch, 'must be an integer ≥ 1');
  if (!Number.isInteger(microBatch) || microBatch < 1 || microBatch > globalBatch) {
    throw new PlanError('batch.micro', microBatch, `must be an integer in [1, batch.global = ${globalBatch}]`);
  }
}
