/**
 * One micro-batch's contribution to a training step, written into a vector of the step's
 * gradient layout (a leaf of the reduction tree, shared/reduction): first every parameter's
 * gradient sum, straight from onnxruntime into the vector, then for each buffer (batch-norm
 * running statistics) count × its updated value, so that the tree's sum divided by the step's
 * sample count is the count-weighted mean of the micro-batches' updates. The local loop and the
 * workers both compute leaves here.
 */
import type { FlatVector } from '../kernels/index.js';
import type { Batch } from '../data/dataset.js';
import type { TrainingRunner } from './runner.js';
import type { Augmenter } from '../augment/augment.js';
import { makeAdversarial, unusedInputGrads, type AdversarialScratch, type AdversarialTraining } from './adversarial-batch.js';

/** Everything of a micro-batch that is summed as a scalar (float64, in micro-batch order). */
export interface LeafStats {
  count: number;
  /** Summed over the micro-batch. */
  loss: number;
  headLosses: number[];
  /** Per head: what its summed loss divides by for PyTorch's mean. */
  headNormalizers: number[];
  correct: number | undefined;
  /** The first NaN or ±Inf of the gradient (param index, element), when there is one. */
  nonFinite?: { param: number; element: number; value: number };
  /** Eval shards under the job's evaluation attacks: per attack (FGSM, PGD), its adversarial examples' figures. */
  attacks?: AttackSums[];
}

/** A shard's figures on its adversarial examples under one attack. */
export interface AttackSums {
  /** Adversarial examples still classified right. */
  correct: number;
  /** Loss summed over them. */
  loss: number;
}

/** What a micro-batch's leaf does besides the plain training pass. */
export interface LeafOptions {
  /** The run's dropout probability instead of the graph's (runner.step). */
  dropout?: number;
  /** Augments the gathered samples in place first (the job's `augment:`), with the step's seed. */
  augment?: { augmenter: Augmenter; seed: number };
  /** Adversarial training: a share of the (augmented) samples replaced by adversarial examples. */
  adversarial?: { training: AdversarialTraining; scratch: AdversarialScratch };
}

/**
 * Runs one micro-batch and writes its leaf into `into` (a vector of params then buffers).
 * `indices` are the batch's dataset indices: augmentation and attacks draw their randomness
 * from them, never from the batch's position or the worker.
 */
export async function computeLeaf(runner: TrainingRunner, batch: Batch, indices: Uint32Array, maskSeed: number, into: FlatVector, options: LeafOptions = {}): Promise<LeafStats> {
  const paramCount = runner.graph.params.length;
  const grads = into.parts.slice(0, paramCount);
  if (options.augment) options.augment.augmenter.apply(batch.x, indices, options.augment.seed);
  let inputGrads: Float32Array[] | undefined;
  if (options.adversarial) {
    const { training, scratch } = options.adversarial;
    await makeAdversarial(runner, batch, indices, maskSeed, training, scratch, grads, options.dropout);
    inputGrads = unusedInputGrads(runner, batch, scratch);
  }
  const r = await runner.step(batch, maskSeed, grads, options.dropout, inputGrads);
  r.state.forEach((updated, b) => {
    const dst = into.parts[paramCount + b]!;
    for (let i = 0; i < dst.length; i++) dst[i] = batch.count * updated[i]!;
  });
  const stats: LeafStats = { count: batch.count, loss: r.loss, headLosses: r.headLosses, headNormalizers: r.headNormalizers, correct: r.correct };
  const at = into.arena.kernels.first_nonfinite(into.ptr, into.offsets[paramCount]!);
  if (at >= 0) {
    const { part, element } = into.locate(at);
    stats.nonFinite = { param: part, element, value: into.parts[part]![element]! };
  }
  return stats;
}
