/**
 * Per-channel statistics over the batch and spatial axes of an [N, C, spatial...] tensor, as
 * ONNX nodes: training-mode BatchNormalization written out in standard ops (the training-mode
 * rewrite uses it), and the helpers BatchNormalization's inference-mode gradient rule shares.
 */
import type { GraphBuilder } from '../../onnx/builder.js';
import { isKnown, type Shape } from '../../onnx/shapes.js';
import { DT } from '../../onnx/tensor.js';

/** Axes 0, 2, 3, …: every axis but the channel axis 1. */
export function batchAxes(rank: number): number[] {
  return [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
}

/** ReduceMean / ReduceSum over `axes`: ReduceSum takes axes as an input from opset 13, ReduceMean only from opset 18. */
export function reduceOver(b: GraphBuilder, opset: number, op: 'ReduceMean' | 'ReduceSum', x: string, axes: readonly number[], keepdims: 0 | 1): string {
  if (op === 'ReduceSum' || opset >= 18) return b.op(op, [x, b.ints(axes)], { keepdims });
  return b.op(op, [x], { axes: [...axes], keepdims });
}

/**
 * m = N·∏spatial, the number of values each channel's statistics average over, as a float
 * scalar: a constant when those dims are static, Size(X)/Size(perChannel) otherwise
 * (`perChannel` is any [C] tensor, e.g. the scale).
 */
export function valuesPerChannel(b: GraphBuilder, x: string, xShape: Shape, perChannel: string): string {
  const dims = batchAxes(xShape.length).map((a) => xShape[a]!);
  if (dims.every(isKnown)) return b.scalar(dims.reduce((p, d) => p * d, 1));
  const size = (t: string) => b.op('Cast', [b.op('Size', [t])], { to: DT.FLOAT });
  return b.op('Div', [size(x), size(perChannel)], {}, 'values_per_channel');
}

/** A [C] tensor viewed as [C, 1, …, 1] so that it broadcasts against [N, C, spatial...] of this rank. */
export function perChannelView(b: GraphBuilder, v: string, rank: number): string {
  return rank <= 2 ? v : b.op('Reshape', [v, b.ints([-1, ...new Array<number>(rank - 2).fill(1)])]);
}

export interface BatchNormTrainingArgs {
  /** [N, C, spatial...] input, of this known rank (≥ 2). */
  x: string;
  rank: number;
  /** γ and β, [C]. */
  scale: string;
  bias: string;
  epsilon: number;
  /** Name to write Y under (the replaced node's output); a fresh one when omitted. */
  y?: string;
}

/** What a training-mode batch norm computed: Y and the batch statistics it normalised with. */
export interface BatchNormTrainingResult {
  y: string;
  /** μ, [C]. */
  mean: string;
  /** σ², [C], BIASED (divided by m, as Y uses it). */
  variance: string;
}

/**
 * Training-mode BatchNormalization in standard ops, statistics over A = {N, spatial axes}:
 *   μ = mean_A X,  σ² = mean_A (X−μ)²,  Y = (X−μ)·(γ/√(σ²+ε)) + β
 * The generic rules (ReduceMean, Sub, Mul, Add, Sqrt, Reciprocal, Reshape) differentiate it,
 * dependence of μ and σ² on X included, and the backward pass reuses these forward tensors
 * instead of recomputing the statistics. Nothing here reads running statistics: onnxruntime's
 * own training-mode kernel writes its running-statistics update into the memory of the running
 * mean/var it is fed, so gradfleet never runs it.
 */
export function emitBatchNormTraining(b: GraphBuilder, opset: number, args: BatchNormTrainingArgs): BatchNormTrainingResult {
  const { x, rank } = args;
  const axes = batchAxes(rank);
  const meanKeep = reduceOver(b, opset, 'ReduceMean', x, axes, 1);
  const centered = b.op('Sub', [x, meanKeep], {}, 'bn_centered');
  const varianceKeep = reduceOver(b, opset, 'ReduceMean', b.op('Mul', [centered, centered]), axes, 1);
  const invStd = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [varianceKeep, b.scalar(args.epsilon)])])], {}, 'bn_inv_std');
  // γ/√(σ²+ε) first: a [C]-sized product, so X-sized work is one Mul and one Add.
  const factor = b.op('Mul', [perChannelView(b, args.scale, rank), invStd], {}, 'bn_factor');
  const scaled = b.op('Mul', [centered, factor]);
  const yInputs = [scaled, perChannelView(b, args.bias, rank)];
  const y = args.y ? b.add('Add', yInputs, {}, [args.y])[0]! : b.op('Add', yInputs, {}, 'bn_y');
  const flat = (t: string, hint: string) => b.op('Reshape', [t, b.ints([-1])], {}, hint);
  return { y, mean: flat(meanKeep, 'bn_batch_mean'), variance: flat(varianceKeep, 'bn_batch_var') };
}
