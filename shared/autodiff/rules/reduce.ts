/** Gradient rules for reductions: ReduceSum (axes as input, opset 13+), ReduceMean (axes attribute up to opset 17). */
import type { RuleTable, InferContext, GradContext } from '../registry.js';
import { attrInt, attrInts } from '../../onnx/attributes.js';
import { normAxis, type TensorInfo } from '../../onnx/shapes.js';
import { need } from './common.js';
import { GradientError } from '../errors.js';

/** The reduced axes (normalised), or undefined for "all axes"; null when they are not known statically. */
function reducedAxes(ctx: { node: InferContext['node']; opset: number }, rank: number, axesInput: number[] | undefined, hasAxesInput: boolean): number[] | undefined | null {
  const { node } = ctx;
  let axes: number[] | undefined;
  if (node.opType === 'ReduceSum' || ctx.opset >= 18) {
    if (hasAxesInput) {
      if (!axesInput) return null;
      axes = axesInput;
    }
  } else axes = attrInts(node, 'axes');
  if (axes === undefined || axes.length === 0) {
    const noop = attrInt(node, 'noop_with_empty_axes', 0);
    return noop ? [] : undefined;
  }
  return axes.map((a) => normAxis(a, rank));
}

export function reduceInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  if (!x.shape) return [{ elemType: x.elemType, shape: undefined }];
  const rank = x.shape.length;
  const axes = reducedAxes(ctx, rank, ctx.constant(1), !!ctx.node.input[1]);
  const keep = attrInt(ctx.node, 'keepdims', 1) === 1;
  if (axes === null) return [{ elemType: x.elemType, shape: keep ? x.shape.map(() => '?') : undefined }];
  const all = axes === undefined;
  const shape = x.shape.flatMap((d, i) => (all || axes.includes(i) ? (keep ? [1] : []) : [d]));
  return [{ elemType: x.elemType, shape }];
}

/** The axes a reduce node reduces (every axis when it names none), for its gradient: X's rank known, the axes constant. */
export function gradientAxes(ctx: GradContext): number[] {
  const { node } = ctx;
  const xs = ctx.info(ctx.x(0)).shape;
  if (!xs) throw new GradientError(node.opType, node.name, 'the rank of the input must be known');
  const axes = reducedAxes(ctx, xs.length, node.input[1] ? ctx.constant(node.input[1]) : undefined, !!node.input[1]);
  if (axes === null) throw new GradientError(node.opType, node.name, 'reduction axes must be constant');
  return axes === undefined ? xs.map((_, i) => i) : axes;
}

/** dX = broadcast of dY (with the reduced axes re-inserted when keepdims=0) to X's shape, times `scale`. */
function reduceGrad(ctx: GradContext, mean: boolean): (string | undefined)[] {
  const { b, node } = ctx;
  const x = ctx.x(0);
  const all = gradientAxes(ctx);
  let g = ctx.dy(0)!;
  if (attrInt(node, 'keepdims', 1) === 0 && all.length > 0) g = b.op('Unsqueeze', [g, b.ints(all)]);
  const shapeX = b.op('Shape', [x]);
  g = b.op('Expand', [g, shapeX]);
  if (mean && all.length > 0) {
    const counts = all.map((a) => ctx.info(x).shape![a]!);
    const n = counts.every((d) => typeof d === 'number')
      ? b.scalar((counts as number[]).reduce((p, d) => p * d, 1))
      : b.op('Cast', [b.op('ReduceProd', [b.op('Gather', [shapeX, b.ints(all)])], { keepdims: 0 })], { to: 1 });
    g = b.op('Div', [g, n]);
  }
  return [g];
}

export const reduceRules: RuleTable = {
  // Y = Σ_axes X ⇒ dX = broadcast(dY)
  ReduceSum: { infer: reduceInfer, grad: (ctx) => reduceGrad(ctx, false) },
  // Y = mean_axes X ⇒ dX = broadcast(dY) / n
  ReduceMean: { infer: reduceInfer, grad: (ctx) => reduceGrad(ctx, true) },
};
