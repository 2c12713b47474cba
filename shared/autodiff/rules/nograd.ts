/**
 * Ops through which no gradient flows, listed explicitly (`grad: 'none'`): their outputs are
 * integers, booleans, shapes, random draws or constants, so the backward walk treats them as
 * constants, even when their inputs depend on a parameter (ArgMax of logits, Equal of
 * predictions and labels, the Shape of an activation).
 *
 * Their shape rules fold small results at compile time (Shape of a static tensor becomes a
 * constant; Shape of ['N',2,3,4] keeps 'N' symbolically) so that torch's shape arithmetic
 * resolves to static Reshape targets.
 */
import type { RuleTable, InferContext } from '../registry.js';
import { attrInt, attrInts, attrFloat, attrFloats, attrTensor, hasAttr } from '../../onnx/attributes.js';
import { UNKNOWN, normAxis, numel, broadcastShapes, type Dim, type Shape, type TensorInfo } from '../../onnx/shapes.js';
import { DT, toNumbers, tensorSize } from '../../onnx/tensor.js';
import { need } from './common.js';
import { elementsOf, withElements, lengthOf, foldElementwise, MAX_FOLDED } from './shape-values.js';

/** Known values of input i (numbers only), for folding. */
function valuesOf(ctx: InferContext, i: number): number[] | undefined {
  return ctx.constant(i) ?? ctx.input(i)?.value;
}

/** A broadcasting op whose output has element type `elemType`, folded with `f` when operands are known. */
function broadcastTo(elemType: number, f: (...xs: number[]) => number) {
  return (ctx: InferContext): TensorInfo[] => {
    const ins = ctx.node.input.map((_, i) => need(ctx, i));
    const shape = broadcastShapes(ins.map((i) => i.shape));
    const folded = foldElementwise(ins, ins.map((_, i) => valuesOf(ctx, i)), shape, f);
    return [withElements({ elemType, shape }, folded)];
  };
}

/** An op whose output has its input's shape and type `elemType(ctx)`. */
function sameShape(elemType: (ctx: InferContext) => number) {
  return (ctx: InferContext): TensorInfo[] => [{ elemType: elemType(ctx), shape: need(ctx, 0).shape }];
}

/** The `dtype` attribute of the random ops and EyeLike, else the input's type. */
const dtypeOrInput = (ctx: InferContext): number => attrInt(ctx.node, 'dtype') ?? need(ctx, 0).elemType;

const bool = (v: boolean): number => (v ? 1 : 0);

function shapeInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  if (!x.shape) return [{ elemType: DT.INT64, shape: [UNKNOWN] }];
  const r = x.shape.length;
  // Opset 15 start/end: negative from the back, clamped to [0, r].
  const bound = (v: number): number => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = bound(attrInt(ctx.node, 'start', 0));
  const end = bound(attrInt(ctx.node, 'end', r));
  const dims = x.shape.slice(start, Math.max(start, end));
  return [withElements({ elemType: DT.INT64, shape: [dims.length] }, dims)];
}

function sizeInfer(ctx: InferContext): TensorInfo[] {
  const s = need(ctx, 0).shape;
  const n = s ? numel(s) : undefined;
  return [withElements({ elemType: DT.INT64, shape: [] }, n === undefined ? undefined : [n])];
}

function constantOfShapeInfer(ctx: InferContext): TensorInfo[] {
  const t = attrTensor(ctx.node, 'value');
  const elemType = t?.dataType ?? DT.FLOAT;
  const fill = t && tensorSize(t) > 0 ? toNumbers(t)[0]! : 0;
  const dims = elementsOf(ctx, 0);
  const rank = dims?.length ?? lengthOf(ctx.input(0));
  const shape: Shape | undefined = dims ? [...dims] : rank === undefined ? undefined : new Array<Dim>(rank).fill(UNKNOWN);
  const n = shape ? numel(shape) : undefined;
  const folded = n !== undefined && n <= MAX_FOLDED ? new Array<number>(n).fill(fill) : undefined;
  return [withElements({ elemType, shape }, folded)];
}

function argInfer(ctx: InferContext): TensorInfo[] {
  const s = need(ctx, 0).shape;
  if (!s) return [{ elemType: DT.INT64, shape: undefined }];
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), s.length);
  const keep = attrInt(ctx.node, 'keepdims', 1) === 1;
  return [{ elemType: DT.INT64, shape: s.flatMap((d, i) => (i === axis ? (keep ? [1] : []) : [d])) }];
}

function nonZeroInfer(ctx: InferContext): TensorInfo[] {
  const s = need(ctx, 0).shape;
  // One column per nonzero element: how many is only known at run time.
  return [{ elemType: DT.INT64, shape: [s ? Math.max(s.length, 1) : UNKNOWN, UNKNOWN] }];
}

function rangeInfer(ctx: InferContext): TensorInfo[] {
  const elemType = need(ctx, 0).elemType;
  const [start, limit, delta] = [0, 1, 2].map((i) => valuesOf(ctx, i)?.[0]);
  if (start === undefined || limit === undefined || delta === undefined) return [{ elemType, shape: [UNKNOWN] }];
  if (delta === 0) throw new Error('Range delta must not be 0');
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  const folded = n <= MAX_FOLDED ? Array.from({ length: n }, (_, i) => start + i * delta) : undefined;
  return [withElements({ elemType, shape: [n] }, folded)];
}

function oneHotInfer(ctx: InferContext): TensorInfo[] {
  const indices = need(ctx, 0);
  const values = need(ctx, 2);
  if (!indices.shape) return [{ elemType: values.elemType, shape: undefined }];
  const rank = indices.shape.length + 1;
  const axis = normAxis(attrInt(ctx.node, 'axis', -1), rank);
  const depth = valuesOf(ctx, 1)?.[0];
  const shape = [...indices.shape];
  shape.splice(axis, 0, depth === undefined ? UNKNOWN : Math.trunc(depth));
  return [{ elemType: values.elemType, shape }];
}

function randomInfer(ctx: InferContext): TensorInfo[] {
  const shape = attrInts(ctx.node, 'shape');
  if (!shape) throw new Error("attribute 'shape' is required");
  return [{ elemType: attrInt(ctx.node, 'dtype', DT.FLOAT), shape }];
}

/** Constant nodes in every attribute form (value, value_float(s), value_int(s), value_string(s)). */
function constantInfer(ctx: InferContext): TensorInfo[] {
  const { node } = ctx;
  const t = attrTensor(node, 'value');
  if (t) {
    const numeric = t.dataType !== DT.STRING && tensorSize(t) <= MAX_FOLDED;
    return [withElements({ elemType: t.dataType, shape: [...t.dims] }, numeric ? toNumbers(t) : undefined)];
  }
  if (hasAttr(node, 'value_float')) return [{ elemType: DT.FLOAT, shape: [], value: [attrFloat(node, 'value_float', 0)] }];
  if (hasAttr(node, 'value_floats')) {
    const v = attrFloats(node, 'value_floats')!;
    return [withElements({ elemType: DT.FLOAT, shape: [v.length] }, v)];
  }
  if (hasAttr(node, 'value_int')) return [{ elemType: DT.INT64, shape: [], value: [attrInt(node, 'value_int', 0)] }];
  if (hasAttr(node, 'value_ints')) {
    const v = attrInts(node, 'value_ints')!;
    return [withElements({ elemType: DT.INT64, shape: [v.length] }, v)];
  }
  if (hasAttr(node, 'value_string')) return [{ elemType: DT.STRING, shape: [] }];
  if (hasAttr(node, 'value_strings')) return [{ elemType: DT.STRING, shape: [node.attribute.find((a) => a.name === 'value_strings')!.strings.length] }];
  if (hasAttr(node, 'sparse_value')) throw new Error('sparse_value constants are not supported; store the constant densely');
  throw new Error('a Constant needs one of value, value_float(s), value_int(s), value_string(s)');
}

export const noGradRules: RuleTable = {
  Constant: { infer: constantInfer, grad: 'none' },

  // Shape arithmetic
  Shape: { infer: shapeInfer, grad: 'none' },
  Size: { infer: sizeInfer, grad: 'none' },
  ConstantOfShape: { infer: constantOfShapeInfer, grad: 'none' },
  Range: { infer: rangeInfer, grad: 'none' },
  NonZero: { infer: nonZeroInfer, grad: 'none' },

  // Comparisons and logic: boolean outputs
  Equal: { infer: broadcastTo(DT.BOOL, (a, b) => bool(a === b)), grad: 'none' },
  Greater: { infer: broadcastTo(DT.BOOL, (a, b) => bool(a! > b!)), grad: 'none' },
  Less: { infer: broadcastTo(DT.BOOL, (a, b) => bool(a! < b!)), grad: 'none' },
  GreaterOrEqual: { infer: broadcastTo(DT.BOOL, (a, b) => bool(a! >= b!)), grad: 'none' },
  LessOrEqual: { infer: broadcastTo(DT.BOOL, (a, b) => bool(a! <= b!)), grad: 'none' },
  Not: { infer: broadcastTo(DT.BOOL, (a) => bool(a === 0)), grad: 'none' },
  And: { infer: broadcastTo(DT.BOOL, (a, b) => bool(a !== 0 && b !== 0)), grad: 'none' },
  Or: { infer: broadcastTo(DT.BOOL, (a, b) => bool(a !== 0 || b !== 0)), grad: 'none' },
  Xor: { infer: broadcastTo(DT.BOOL, (a, b) => bool((a !== 0) !== (b !== 0))), grad: 'none' },
  IsNaN: { infer: sameShape(() => DT.BOOL), grad: 'none' },
  IsInf: { infer: sameShape(() => DT.BOOL), grad: 'none' },

  // Indices of extremes (accuracy counters, greedy decoding)
  ArgMax: { infer: argInfer, grad: 'none' },
  ArgMin: { infer: argInfer, grad: 'none' },

  // One-hot labels: the values input is data, but labels need no gradient.
  OneHot: { infer: oneHotInfer, grad: 'none' },

  // Fresh tensors: identity matrices and random draws do not depend on their input's values.
  EyeLike: { infer: sameShape(dtypeOrInput), grad: 'none' },
  RandomUniformLike: { infer: sameShape(dtypeOrInput), grad: 'none' },
  RandomNormalLike: { infer: sameShape(dtypeOrInput), grad: 'none' },
  Bernoulli: { infer: sameShape(dtypeOrInput), grad: 'none' },
  RandomUniform: { infer: randomInfer, grad: 'none' },
  RandomNormal: { infer: randomInfer, grad: 'none' },
};

