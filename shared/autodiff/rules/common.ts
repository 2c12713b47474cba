/** Building blocks shared by the gradient rules of several op families. */
import type { GradContext, InferContext } from '../registry.js';
import { broadcastShapes, sameDim, type TensorInfo } from '../../onnx/shapes.js';
import { OnnxShapeError } from '../../onnx/errors.js';
import { int64Tensor } from '../../onnx/tensor.js';

/** Shape rule for ops whose single output has the shape and type of input 0. */
export function sameAsInput0(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  return [{ elemType: x.elemType, shape: x.shape }];
}

/** Shape rule for numpy-broadcasting elementwise ops (output type of input 0). */
export function broadcastInfer(ctx: InferContext): TensorInfo[] {
  const ins = ctx.node.input.map((_, i) => need(ctx, i));
  return [{ elemType: ins[0]!.elemType, shape: broadcastShapes(ins.map((i) => i.shape)) }];
}

export function need(ctx: InferContext, i: number): TensorInfo {
  const t = ctx.input(i);
  if (!t) throw new OnnxShapeError(ctx.node.name, ctx.node.opType, `input ${i} is required`);
  return t;
}

/**
 * Reduces a gradient computed at a broadcast output's shape back to the shape of input `x`
 * (numpy broadcasting reversed: sum over the leading axes x lacks and the axes where x has 1).
 * Static when shapes allow it; otherwise computed at run time from Shape(x) and Shape(g).
 */
export function sumToShape(ctx: GradContext, g: string, x: string, gShape?: TensorInfo['shape']): string {
  const { b } = ctx;
  const xs = ctx.info(x).shape;
  const ys = gShape;
  if (xs && ys) {
    const lead = ys.length - xs.length;
    const axes: number[] = [];
    let static_ = lead >= 0;
    for (let i = 0; i < ys.length && static_; i++) {
      if (i < lead) axes.push(i);
      else {
        const xd = xs[i - lead]!;
        const yd = ys[i]!;
        if (sameDim(xd, yd)) continue;
        if (xd === 1) axes.push(i);
        else static_ = false; // unknown relation: decide at run time
      }
    }
    if (static_) {
      if (axes.length === 0) return g;
      const summed = b.op('ReduceSum', [g, b.ints(axes)], { keepdims: 1 });
      return lead > 0 ? b.op('Reshape', [summed, xs.every((d) => typeof d === 'number') ? b.ints(xs as number[]) : b.op('Shape', [x])]) : summed;
    }
  }
  // Runtime path: axes = positions where Shape(x) left-padded with 1s differs from Shape(g).
  const sx = b.op('Shape', [x]);
  const sg = b.op('Shape', [g]);
  const pad = b.op('Sub', [b.op('Size', [sg]), b.op('Size', [sx])]);
  const ones = b.op('ConstantOfShape', [b.op('Reshape', [pad, b.ints([1])])], { value: int64One() });
  const sxPadded = b.op('Concat', [ones, sx], { axis: 0 });
  const differs = b.op('Not', [b.op('Equal', [sxPadded, sg])]);
  const axes = b.op('Reshape', [b.op('NonZero', [differs]), b.ints([-1])]);
  const summed = b.op('ReduceSum', [g, axes], { keepdims: 1, noop_with_empty_axes: 1 });
  return b.op('Reshape', [summed, sx]);
}


function int64One() {
  return int64Tensor('one', [1], [1]);
}
