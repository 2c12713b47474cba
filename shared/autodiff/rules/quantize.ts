/**
 * Fake quantization: QuantizeLinear → DequantizeLinear (and DynamicQuantizeLinear, which also
 * computes its per-tensor scale and zero point from the tensor's own range), the form
 * quantization-aware training inserts (shared/quantize/fake-quant.ts) and onnxruntime runs.
 *
 * Gradient: the straight-through estimator. Rounding is taken as the identity and the 1/scale
 * of the quantization cancels the scale of the dequantization, so a Q → DQ pair passes dY
 * unchanged to X:
 *
 *   QuantizeLinear:        dX = dQ           DequantizeLinear: dQ = dY
 *   DynamicQuantizeLinear: dX = dQ (its scale and zero point outputs are constants)
 *
 * Scales are quantization parameters, not learned: they get a zero gradient (a scale computed
 * from a trainable tensor, max|W|/127, passes zeros back, as torch.fake_quantize_* gives its
 * scale none). The scale slot is not `nondiff` because such a computed scale depends on a
 * trainable tensor, which the backward walk refuses for a nondiff slot; the price is that a
 * per-channel scale stored as an initializer (an int8 QDQ model compiled for training) counts as
 * a parameter with a zero gradient: freeze it to keep it an initializer. Zero points are
 * integers and get no gradient.
 */
import type { RuleTable, InferContext, GradContext } from '../registry.js';
import { isKnown, type TensorInfo } from '../../onnx/shapes.js';
import { DT, float32Tensor } from '../../onnx/tensor.js';
import { need } from './common.js';

/** A float zero tensor of `name`'s shape. */
function zerosLike(ctx: GradContext, name: string): string {
  const { b } = ctx;
  const s = ctx.info(name).shape;
  const shape = s && s.every(isKnown) ? b.ints(s as number[]) : b.op('Shape', [name]);
  return b.op('ConstantOfShape', [shape], { value: float32Tensor('zero', [1], [0]) }, 'quant_param_grad');
}

function quantizeInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  const zp = ctx.input(2);
  return [{ elemType: zp?.elemType ?? DT.UINT8, shape: x.shape }];
}

function dequantizeInfer(ctx: InferContext): TensorInfo[] {
  return [{ elemType: DT.FLOAT, shape: need(ctx, 0).shape }];
}

function dynamicQuantizeInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  return [
    { elemType: DT.UINT8, shape: x.shape },
    { elemType: DT.FLOAT, shape: [] },
    { elemType: DT.UINT8, shape: [] },
  ];
}

/** Q and DQ alike: dY straight through to input 0, zeros to the scale, nothing to the zero point. */
function straightThrough(ctx: GradContext): (string | undefined)[] {
  return [ctx.needs(0) ? ctx.dy(0) : undefined, ctx.needs(1) ? zerosLike(ctx, ctx.x(1)) : undefined];
}

export const quantizeRules: RuleTable = {
  QuantizeLinear: { infer: quantizeInfer, grad: straightThrough, nondiff: [2] },
  DequantizeLinear: { infer: dequantizeInfer, grad: straightThrough, nondiff: [2] },
  DynamicQuantizeLinear: {
    infer: dynamicQuantizeInfer,
    grad: (ctx) => {
      if (!ctx.needs(0)) return [];
      return [ctx.dy(0) ?? zerosLike(ctx, ctx.x(0))];
    },
  },
};
