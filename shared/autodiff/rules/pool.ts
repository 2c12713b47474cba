/**
 * Shape and gradient rules for pooling: MaxPool (with or without its Indices output),
 * AveragePool (count_include_pad 0/1, ceil_mode, explicit or automatic pads) and
 * GlobalAveragePool, over any number of spatial axes. Backward passes use standard ops only:
 * a scatter-add into the argmax positions for MaxPool, a ConvTranspose with a kernel of ones for
 * AveragePool.
 */
import type { RuleTable, InferContext, GradContext } from '../registry.js';
import type { AttrValue } from '../../onnx/attributes.js';
import { attrInt, attrInts } from '../../onnx/attributes.js';
import { OnnxShapeError } from '../../onnx/errors.js';
import { isKnown, numel, type Shape, type TensorInfo } from '../../onnx/shapes.js';
import { DT, float32Tensor } from '../../onnx/tensor.js';
import { need } from './common.js';
import { poolGeometry, pooledShape, type PoolGeometry } from './pool-geometry.js';
import { GradientError } from '../errors.js';

/** X is [N, C, spatial...]; the spatial dims (or undefined when the rank is unknown). */
function spatialOf(ctx: InferContext, x: TensorInfo): Shape | undefined {
  if (!x.shape) return undefined;
  if (x.shape.length < 3) throw new OnnxShapeError(ctx.node.name, ctx.node.opType, `input must be [N, C, spatial...], got rank ${x.shape.length}`);
  return x.shape.slice(2);
}

/** Y (and MaxPool's Indices, INT64) are [N, C, pooled spatial...]. */
function poolInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  const spatial = spatialOf(ctx, x);
  if (!spatial) return [{ elemType: x.elemType, shape: undefined }, { elemType: DT.INT64, shape: undefined }];
  let pooled: Shape;
  try {
    pooled = pooledShape(poolGeometry(ctx.node, spatial), spatial);
  } catch (e) {
    if (e instanceof OnnxShapeError) throw e;
    throw new OnnxShapeError(ctx.node.name, ctx.node.opType, (e as Error).message);
  }
  const shape = [x.shape![0]!, x.shape![1]!, ...pooled];
  return [{ elemType: x.elemType, shape }, { elemType: DT.INT64, shape }];
}

function globalPoolInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  const spatial = spatialOf(ctx, x);
  return [{ elemType: x.elemType, shape: spatial ? [x.shape![0]!, x.shape![1]!, ...spatial.map(() => 1)] : undefined }];
}

/** The pooling attributes with pads made explicit, for the extra pooling nodes a backward pass emits. */
function explicitPoolAttrs(g: PoolGeometry): Record<string, AttrValue> {
  return { kernel_shape: g.kernel, strides: g.strides, pads: [...g.padsBegin, ...g.padsEnd] as number[], ceil_mode: g.ceilMode ? 1 : 0 };
}

/** Shape of `x` as an int64 tensor: a constant when it is static, Shape(x) otherwise. */
function shapeTensor(ctx: GradContext, x: string): string {
  const s = ctx.info(x).shape;
  return s && s.every(isKnown) ? ctx.b.ints(s) : ctx.b.op('Shape', [x]);
}

/** Geometry for a backward pass; automatic pads must resolve to numbers. */
function resolvedGeometry(ctx: GradContext, spatial: Shape): PoolGeometry {
  const g = poolGeometry(ctx.node, spatial);
  if (g.padsBegin.some((p) => p === undefined) || g.padsEnd.some((p) => p === undefined))
    throw new GradientError(ctx.node.opType, ctx.node.name, `auto_pad ${g.autoPad} needs known spatial dims, got [${spatial.join(',')}]`);
  return g;
}

/**
 * Y[o] = X[i(o)], i(o) the argmax of window o ⇒ dX[i] = Σ_{o : i(o) = i} dY[o].
 * Overlapping windows (stride < kernel) can pick the same i, so the scatter adds (opset 16).
 *
 * The argmax positions come from MaxPool's Indices output: flat offsets into X over
 * N·C·spatial, padding not counted (storage_order 0), which is exactly a ScatterElements index
 * into X flattened. toTrainingMode gives the forward node that output so the forward kernel
 * computes them once; when the forward node lacks it (a graph not passed through
 * toTrainingMode), a second MaxPool with an Indices output recomputes them here.
 */
function maxPoolGrad(ctx: GradContext): (string | undefined)[] {
  const { b, node } = ctx;
  if (attrInt(node, 'storage_order', 0) !== 0) throw new GradientError(node.opType, node.name, 'storage_order 1 (column-major indices) is not supported; export with storage_order 0');
  const dy = ctx.dy(0);
  if (!dy) throw new GradientError(node.opType, node.name, 'no gradient reaches its output Y');
  const x = ctx.x(0);
  const xs = ctx.info(x).shape;
  let indices: string;
  if (node.output[1]) indices = ctx.y(1);
  else {
    if (!xs) throw new GradientError(node.opType, node.name, 'the rank of X must be known');
    const g = resolvedGeometry(ctx, xs.slice(2));
    indices = b.add('MaxPool', [x], { ...explicitPoolAttrs(g), dilations: g.dilations, storage_order: 0 }, 2, 'maxpool_argmax')[1]!;
  }
  const n = xs ? numel(xs) : undefined;
  const count = n !== undefined ? b.ints([n]) : b.op('Reshape', [b.op('Size', [x]), b.ints([1])]);
  const zeros = b.op('ConstantOfShape', [count], { value: float32Tensor('zero', [1], [0]) });
  const flat = b.op('ScatterElements', [zeros, b.op('Reshape', [indices, b.ints([-1])]), b.op('Reshape', [dy, b.ints([-1])])], { axis: 0, reduction: 'add' });
  return [b.op('Reshape', [flat, shapeTensor(ctx, x)])];
}

/**
 * Y[o] = (1/c(o))·Σ_{i ∈ window(o)} X[i] ⇒ dX[i] = Σ_{o : i ∈ window(o)} dY[o]/c(o),
 * i.e. dX = ConvTranspose(dY/c, kernel of ones): the adjoint of summing over windows.
 *
 * The divisor c(o) is k₁·k₂… for count_include_pad=1 (less where a ceil_mode window hangs past
 * the padded input) and the number of real elements for count_include_pad=0. Rather than
 * re-deriving those rules, 1/c is read off the runtime's own pooling of a tensor of ones:
 * AveragePool(1)[o] = e(o)/c(o) and Conv(1, ones kernel)[o] = e(o), the real elements in window
 * o, so 1/c(o) = AveragePool(1)[o] / Conv(1, ones)[o] (e(o) ≥ 1 for every window). Both act on
 * constants, so onnxruntime folds them when the session loads.
 *
 * Channels are folded into the batch ([N·C, 1, spatial]) so that one single-channel kernel
 * serves any C. Spatial dims must be static.
 */
function averagePoolGrad(ctx: GradContext): (string | undefined)[] {
  const { b, node } = ctx;
  const fail = (msg: string) => new GradientError(node.opType, node.name, msg);
  const dy = ctx.dy(0);
  if (!dy) throw fail('no gradient reaches its output Y');
  const x = ctx.x(0);
  const xs = ctx.info(x).shape;
  if (!xs) throw fail('the rank of X must be known');
  const spatial = xs.slice(2);
  if (!spatial.every(isKnown)) throw fail(`the spatial dims of X must be static, got [${spatial.join(',')}]`);
  if ((attrInts(node, 'dilations') ?? []).some((d) => d !== 1)) throw fail('dilations other than 1 are not supported');
  const g = resolvedGeometry(ctx, spatial);
  const pooled = pooledShape(g, spatial) as number[];
  const kernel = g.kernel;
  const pb = g.padsBegin as number[];
  const pe = g.padsEnd as number[];

  // Element counts: a Conv of ones whose end pads reach the last (ceil_mode) window.
  const countPadsEnd = spatial.map((s, i) => pe[i]! + Math.max(0, (pooled[i]! - 1) * g.strides[i]! + kernel[i]! - (s + pb[i]! + pe[i]!)));
  spatial.forEach((s, i) => {
    if (Math.floor((s + pb[i]! + countPadsEnd[i]! - kernel[i]!) / g.strides[i]!) + 1 !== pooled[i]) throw fail(`internal: window count on axis ${i} does not match the pooled size ${pooled[i]}`);
  });
  const ones = b.op('ConstantOfShape', [b.ints([1, 1, ...spatial])], { value: float32Tensor('one', [1], [1]) }, 'pool_ones');
  const onesKernel = b.floats(new Array<number>(kernel.reduce((p, k) => p * k, 1)).fill(1), [1, 1, ...kernel]);
  const averaged = b.op('AveragePool', [ones], { ...explicitPoolAttrs(g), count_include_pad: attrInt(node, 'count_include_pad', 0) });
  const elements = b.op('Conv', [ones, onesKernel], { kernel_shape: kernel, strides: g.strides, pads: [...pb, ...countPadsEnd] });
  const invDivisor = b.op('Div', [averaged, elements], {}, 'pool_inv_divisor');

  // ConvTranspose output = (O−1)·s + k − p₀ − p₁ + output_padding: crop the end or pad it to reach S.
  const natural = spatial.map((_, i) => (pooled[i]! - 1) * g.strides[i]! + kernel[i]! - pb[i]! - pe[i]!);
  const cropEnd = spatial.map((s, i) => pe[i]! + Math.max(0, natural[i]! - s));
  const outputPadding = spatial.map((s, i) => Math.max(0, s - natural[i]!));
  const scaled = b.op('Mul', [b.op('Reshape', [dy, b.ints([-1, 1, ...pooled])]), invDivisor]);
  const spread = b.op('ConvTranspose', [scaled, onesKernel], {
    kernel_shape: kernel,
    strides: g.strides,
    pads: [...pb, ...cropEnd],
    output_padding: outputPadding.some((p) => p > 0) ? outputPadding : undefined,
  });
  return [b.op('Reshape', [spread, shapeTensor(ctx, x)])];
}

/** Y = mean over the spatial axes ⇒ dX = broadcast(dY) / (number of spatial positions). */
function globalAveragePoolGrad(ctx: GradContext): (string | undefined)[] {
  const { b, node } = ctx;
  const dy = ctx.dy(0);
  if (!dy) throw new GradientError(node.opType, node.name, 'no gradient reaches its output Y');
  const x = ctx.x(0);
  const xs = ctx.info(x).shape;
  const spatial = xs?.slice(2);
  const positions = spatial && spatial.every(isKnown) ? b.scalar(numel(spatial)!) : b.op('Div', [b.op('Cast', [b.op('Size', [x])], { to: DT.FLOAT }), b.op('Cast', [b.op('Size', [dy])], { to: DT.FLOAT })]);
  return [b.op('Div', [b.op('Expand', [dy, shapeTensor(ctx, x)]), positions])];
}

export const poolRules: RuleTable = {
  MaxPool: { infer: poolInfer, grad: maxPoolGrad },
  AveragePool: { infer: (ctx) => poolInfer(ctx).slice(0, 1), grad: averagePoolGrad },
  GlobalAveragePool: { infer: globalPoolInfer, grad: globalAveragePoolGrad },
};
