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
}

/**
 * Runs one micro-batch and writes its leaf into `into` (a vector of params then buffers).
 * `dropout`: the run's dropout probability instead of the graph's (runner.step).
 */
export async function computeLeaf(runner: TrainingRunner, batch: Batch, maskSeed: number, into: FlatVector, dropout?: number): Promise<LeafStats> {
  const paramCount = runner.graph.params.length;
  const r = await runner.step(batch, maskSeed, into.parts.slice(0, paramCount), dropout);
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
