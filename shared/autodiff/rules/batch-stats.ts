/**
 * Per-channel statistics over the batch and spatial axes of an [N, C, spatial...] tensor, as
 * ONNX nodes. BatchNormalization's gradient rule and the training-mode rewrite (running
 * statistics) both reduce over the same axes.
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
