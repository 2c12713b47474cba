/**
 * Gradient rules for Softmax and LogSoftmax with opset-13 semantics: one `axis` (default −1), the
 * normalisation runs along that axis only. (Before opset 13 the input was coerced to 2-D at
 * `axis`, default 1; gradfleet accepts models from opset 13 on, and the rules refuse older ones
 * rather than compute a gradient for the wrong function.)
 */
import type { GradContext, InferContext, RuleTable } from '../registry.js';
import { attrInt } from '../../onnx/attributes.js';
import { normAxis, type TensorInfo } from '../../onnx/shapes.js';
import { OnnxShapeError } from '../../onnx/errors.js';
import { GradientError } from '../errors.js';
import { need } from './common.js';

/** Same shape and type as X, after checking that `axis` fits X's rank when the rank is known. */
function softmaxInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  if (x.shape) {
    const axis = attrInt(ctx.node, 'axis', -1);
    if (axis < -x.shape.length || axis >= x.shape.length) throw new OnnxShapeError(ctx.node.name, ctx.node.opType, `axis ${axis} is out of range for an input of rank ${x.shape.length}`);
  }
  return [{ elemType: x.elemType, shape: x.shape }];
}

/** The softmax axis, normalised when X's rank is known (a negative axis works as is otherwise). */
function softmaxAxis(ctx: GradContext): number {
  const { node } = ctx;
  if (ctx.opset < 13) throw new GradientError(node.opType, node.name, `opset ${ctx.opset} coerces the input to 2-D; only opset 13+ semantics (a single axis) are supported`);
  const axis = attrInt(node, 'axis', -1);
  const shape = ctx.info(ctx.x(0)).shape;
  return shape ? normAxis(axis, shape.length) : axis;
}

/** Σ over the softmax axis, kept as a size-1 axis so it broadcasts back. */
function sumAlongAxis(ctx: GradContext, t: string, axis: number): string {
  return ctx.b.op('ReduceSum', [t, ctx.b.ints([axis])], { keepdims: 1 });
}

export const softmaxRules: RuleTable = {
  // Y = softmax(X) ⇒ dX = Y·(dY − Σ_axis(dY·Y))
  Softmax: {
    infer: softmaxInfer,
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const { b } = ctx;
      const axis = softmaxAxis(ctx);
      const y = ctx.y(0);
      const dy = ctx.dy(0)!;
      const dot = sumAlongAxis(ctx, b.op('Mul', [dy, y]), axis);
      return [b.op('Mul', [y, b.op('Sub', [dy, dot])])];
    },
  },

  // Y = X − log Σ_axis eˣ ⇒ dX = dY − softmax(X)·Σ_axis dY, with softmax(X) = exp(Y)
  LogSoftmax: {
    infer: softmaxInfer,
    grad: (ctx) => {
      if (!ctx.needs(0)) return [undefined];
      const { b } = ctx;
      const axis = softmaxAxis(ctx);
      const dy = ctx.dy(0)!;
      const total = sumAlongAxis(ctx, dy, axis);
      return [b.op('Sub', [dy, b.op('Mul', [b.op('Exp', [ctx.y(0)]), total])])];
    },
  },
};
