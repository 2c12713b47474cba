/**
 * Gradient and shape rules for ops that move, select or copy elements without computing on them:
 * Identity, Flatten, Reshape, Transpose, Squeeze, Unsqueeze, Concat, Split, Slice, Expand, Tile,
 * Gather, Where, Cast. Their gradients route dY back to where each element came from: reshapes
 * undo themselves, selections scatter into zeros of X's shape, copies sum.
 *
 * Shape rules also fold the small integer tensors torch exports for shape arithmetic
 * (Shape→Gather→Unsqueeze→Concat→Reshape), symbolic dims included (see TensorInfo.dimValues).
 */
import type { NodeProto } from '../../proto/gen/onnx.js';
import type { RuleTable, InferContext, GradContext } from '../registry.js';
import { attrInt, attrInts } from '../../onnx/attributes.js';
import { UNKNOWN, isKnown, normAxis, broadcastShapes, type Dim, type Shape, type TensorInfo } from '../../onnx/shapes.js';
import { DT, float32Tensor } from '../../onnx/tensor.js';
import { need, sumToShape } from './common.js';
import { GradientError } from '../errors.js';
import { elementsOf, withElements, lengthOf, dimProduct, reshapeShape, sliceRange, coversWholeAxis, type SliceRange } from './shape-values.js';

const FLOAT_TYPES: ReadonlySet<number> = new Set([DT.FLOAT, DT.DOUBLE, DT.FLOAT16, DT.BFLOAT16]);

// ---------------------------------------------------------------------------------------------
// Helpers for gradient rules

/** X's static shape, or a GradientError naming the op when even its rank is unknown. */
function rankedShape(ctx: GradContext, name: string): Shape {
  const s = ctx.info(name).shape;
  if (!s) throw new GradientError(ctx.node.opType, ctx.node.name, `the rank of '${name}' must be known`);
  return s;
}

/** Shape of a forward tensor as an int64 tensor: a constant when static, Shape(x) otherwise. */
function shapeTensor(ctx: GradContext, x: string): string {
  const s = ctx.info(x).shape;
  return s && s.every(isKnown) ? ctx.b.ints(s as number[]) : ctx.b.op('Shape', [x]);
}

/** Some of X's dims (in the order given) as a 1-D int64 tensor. */
function dimsTensor(ctx: GradContext, x: string, axes: readonly number[]): string {
  const s = ctx.info(x).shape;
  if (s && axes.every((a) => isKnown(s[a]!))) return ctx.b.ints(axes.map((a) => s[a] as number));
  return ctx.b.op('Gather', [ctx.b.op('Shape', [x]), ctx.b.ints(axes)], { axis: 0 });
}

/** Float zeros of the shape held by the int64 tensor `shape`. */
function zeros(ctx: GradContext, shape: string): string {
  return ctx.b.op('ConstantOfShape', [shape], { value: float32Tensor('zero', [1], [0]) }, 'zeros');
}

/** dX = Reshape(dY, Shape(X)): the gradient of every op that only reinterprets X's layout. */
function reshapeBack(ctx: GradContext): (string | undefined)[] {
  if (!ctx.needs(0)) return [];
  return [ctx.b.op('Reshape', [ctx.dy(0)!, shapeTensor(ctx, ctx.x(0))])];
}

function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

function transposePerm(node: NodeProto, rank: number): number[] {
  const perm = attrInts(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) throw new Error(`perm [${perm}] is not a permutation of rank ${rank}`);
  return perm;
}

// ---------------------------------------------------------------------------------------------
// Shape rules

function flattenInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  if (!x.shape) return [{ elemType: x.elemType, shape: [UNKNOWN, UNKNOWN] }];
  const r = x.shape.length;
  const axis = attrInt(ctx.node, 'axis', 1);
  const a = axis < 0 ? axis + r : axis;
  if (a < 0 || a > r) throw new Error(`axis ${axis} is out of range for rank ${r}`);
  return [withElements({ elemType: x.elemType, shape: [dimProduct(x.shape.slice(0, a)), dimProduct(x.shape.slice(a))] }, elementsOf(ctx, 0))];
}

function reshapeInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  const target = elementsOf(ctx, 1);
  let shape: Shape | undefined;
  if (target) shape = reshapeShape(x.shape, target, attrInt(ctx.node, 'allowzero', 0) === 1);
  else {
    const rank = lengthOf(ctx.input(1));
    shape = rank === undefined ? undefined : new Array<Dim>(rank).fill(UNKNOWN);
  }
  return [withElements({ elemType: x.elemType, shape }, elementsOf(ctx, 0))];
}

function transposeInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  if (!x.shape) return [{ elemType: x.elemType, shape: undefined }];
  const perm = transposePerm(ctx.node, x.shape.length);
  return [{ elemType: x.elemType, shape: perm.map((p) => x.shape![p]!) }];
}

function squeezeInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  // elementsOf, not x.value: a Constant's values reach the rule through ctx.constant only.
  const elements = elementsOf(ctx, 0);
  const keep = (shape: Shape | undefined): TensorInfo[] => [withElements({ elemType: x.elemType, shape }, elements)];
  if (!x.shape) return keep(undefined);
  const axesGiven = !!ctx.node.input[1];
  const axes = elementsOf(ctx, 1);
  if (axesGiven && !axes) return keep(undefined);
  if (!axesGiven) {
    // Which dims are 1 is only known when every dim is.
    if (!x.shape.every(isKnown)) return keep(undefined);
    return keep(x.shape.filter((d) => d !== 1));
  }
  const norm = axes!.map((a) => normAxis(a as number, x.shape!.length));
  for (const a of norm) if (isKnown(x.shape[a]!) && x.shape[a] !== 1) throw new Error(`cannot squeeze axis ${a} of size ${x.shape[a]}`);
  return keep(x.shape.filter((_, i) => !norm.includes(i)));
}

function unsqueezeInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  const axes = elementsOf(ctx, 1);
  const k = axes?.length ?? lengthOf(ctx.input(1));
  let shape: Shape | undefined;
  if (x.shape && k !== undefined) {
    const rank = x.shape.length + k;
    if (!axes) shape = new Array<Dim>(rank).fill(UNKNOWN);
    else {
      const norm = axes.map((a) => normAxis(a as number, rank));
      if (new Set(norm).size !== norm.length) throw new Error(`axes [${axes}] repeat an axis`);
      const rest = [...x.shape];
      shape = Array.from({ length: rank }, (_, i) => (norm.includes(i) ? 1 : rest.shift()!));
    }
  }
  // elementsOf, not x.value: Unsqueeze(Constant(−1)) in torch's view(x.size(0), −1) must keep the −1.
  return [withElements({ elemType: x.elemType, shape }, elementsOf(ctx, 0))];
}

function concatInfer(ctx: InferContext): TensorInfo[] {
  const ins = ctx.node.input.map((_, i) => need(ctx, i));
  const elemType = ins[0]!.elemType;
  const ranked = ins.map((i) => i.shape).filter((s): s is Shape => s !== undefined);
  if (ranked.length === 0) return [{ elemType, shape: undefined }];
  const rank = ranked[0]!.length;
  if (ranked.some((s) => s.length !== rank)) throw new Error(`inputs have different ranks: ${ranked.map((s) => `[${s}]`).join(', ')}`);
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), rank);
  const shape: Shape = [];
  for (let d = 0; d < rank; d++) {
    if (d === axis) {
      const parts = ins.map((i) => i.shape?.[axis] ?? UNKNOWN);
      shape.push(parts.every(isKnown) ? (parts as number[]).reduce((p, v) => p + v, 0) : UNKNOWN);
    } else {
      // Every input has this dim: any known value (or shared symbol) stands for all.
      const ds = ranked.map((s) => s[d]!);
      shape.push(ds.find(isKnown) ?? ds.find((v) => v !== UNKNOWN) ?? UNKNOWN);
    }
  }
  let elements: Dim[] | undefined;
  if (rank === 1) {
    const parts = ctx.node.input.map((_, i) => elementsOf(ctx, i));
    if (parts.every((p) => p !== undefined)) elements = parts.flat() as Dim[];
  }
  return [withElements({ elemType, shape }, elements)];
}

function splitInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  const n = ctx.node.output.length;
  if (!x.shape) return ctx.node.output.map(() => ({ elemType: x.elemType, shape: undefined }));
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.shape.length);
  const split = elementsOf(ctx, 1);
  const dim = x.shape[axis]!;
  let sizes: Dim[];
  if (split) {
    if (split.length !== n) throw new Error(`split has ${split.length} entries for ${n} outputs`);
    if (isKnown(dim) && split.every(isKnown) && (split as number[]).reduce((p, v) => p + v, 0) !== dim) throw new Error(`split [${split}] does not add up to dim ${dim}`);
    sizes = split;
  } else if (ctx.node.input[1]) sizes = new Array<Dim>(n).fill(UNKNOWN);
  else if (isKnown(dim)) {
    if (dim % n !== 0) throw new Error(`dim ${dim} does not split evenly into ${n} outputs`);
    sizes = new Array<Dim>(n).fill(dim / n);
  } else sizes = new Array<Dim>(n).fill(n === 1 ? dim : UNKNOWN);
  return sizes.map((s) => ({ elemType: x.elemType, shape: x.shape!.map((d, i) => (i === axis ? s : d)) }));
}

/** Slice arguments, normalised per axis where they are known at compile time. */
interface SliceArgs {
  axes: number[];
  starts: number[];
  ends: number[];
  steps: number[];
}

/** The slice's axes and bounds when all are constant; null when any is only known at run time. */
function sliceArgs(constant: (i: number) => Dim[] | undefined, present: (i: number) => boolean, rank: number): SliceArgs | null {
  const starts = constant(1);
  const ends = constant(2);
  const axes = present(3) ? constant(3) : starts?.map((_, i) => i);
  const steps = present(4) ? constant(4) : starts?.map(() => 1);
  if (![starts, ends, axes, steps].every((v) => v !== undefined && v.every(isKnown))) return null;
  const k = starts!.length;
  if (ends!.length !== k || axes!.length !== k || steps!.length !== k) throw new Error(`starts, ends, axes and steps have different lengths (${k}, ${ends!.length}, ${axes!.length}, ${steps!.length})`);
  const norm = (axes as number[]).map((a) => normAxis(a, rank));
  if (new Set(norm).size !== k) throw new Error(`axes [${axes}] repeat an axis`);
  return { axes: norm, starts: starts as number[], ends: ends as number[], steps: steps as number[] };
}

/** Per-axis ranges of a slice of a tensor with a fully known shape along the sliced axes. */
function sliceRanges(shape: Shape, args: SliceArgs): SliceRange[] | null {
  const out: SliceRange[] = [];
  for (let k = 0; k < args.axes.length; k++) {
    const dim = shape[args.axes[k]!]!;
    if (!isKnown(dim)) return null;
    out.push(sliceRange(dim, args.starts[k]!, args.ends[k]!, args.steps[k]!));
  }
  return out;
}

function sliceInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  if (!x.shape) return [{ elemType: x.elemType, shape: undefined }];
  const rank = x.shape.length;
  const args = sliceArgs((i) => elementsOf(ctx, i), (i) => !!ctx.node.input[i], rank);
  if (!args) {
    // Bounds known only at run time: sliced axes lose their size; if even the axes are unknown, all do.
    const axes = ctx.node.input[3] ? elementsOf(ctx, 3) : Array.from({ length: lengthOf(ctx.input(1)) ?? rank }, (_, i) => i);
    const sliced = axes?.every(isKnown) ? new Set((axes as number[]).map((a) => normAxis(a, rank))) : undefined;
    return [{ elemType: x.elemType, shape: x.shape.map((d, i) => (!sliced || sliced.has(i) ? UNKNOWN : d)) }];
  }
  const shape = [...x.shape];
  args.axes.forEach((a, k) => {
    const d = x.shape![a]!;
    if (isKnown(d)) shape[a] = sliceRange(d, args.starts[k]!, args.ends[k]!, args.steps[k]!).length;
    else shape[a] = coversWholeAxis(args.starts[k]!, args.ends[k]!, args.steps[k]!) ? d : UNKNOWN;
  });
  let elements: Dim[] | undefined;
  const xs = elementsOf(ctx, 0);
  if (xs && rank === 1 && isKnown(x.shape[0]!)) {
    const r = sliceRange(xs.length, args.starts[0]!, args.ends[0]!, args.steps[0]!);
    elements = Array.from({ length: r.length }, (_, i) => xs[r.start + i * r.step]!);
  }
  return [withElements({ elemType: x.elemType, shape }, elements)];
}

function expandInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  const target = elementsOf(ctx, 1);
  const rank = target?.length ?? lengthOf(ctx.input(1));
  const targetShape = target ?? (rank === undefined ? undefined : new Array<Dim>(rank).fill(UNKNOWN));
  return [{ elemType: x.elemType, shape: broadcastShapes([x.shape, targetShape]) }];
}

function tileInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  if (!x.shape) return [{ elemType: x.elemType, shape: undefined }];
  const repeats = elementsOf(ctx, 1);
  if (repeats && repeats.length !== x.shape.length) throw new Error(`repeats has ${repeats.length} entries for rank ${x.shape.length}`);
  const shape = x.shape.map((d, i) => {
    const r = repeats?.[i];
    if (r === 1) return d;
    return isKnown(d) && r !== undefined && isKnown(r) ? d * r : UNKNOWN;
  });
  return [{ elemType: x.elemType, shape }];
}

function gatherInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  const idx = need(ctx, 1);
  if (!x.shape || !idx.shape) return [{ elemType: x.elemType, shape: undefined }];
  const axis = normAxis(attrInt(ctx.node, 'axis', 0), x.shape.length);
  const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
  let elements: Dim[] | undefined;
  const xs = elementsOf(ctx, 0);
  const is = elementsOf(ctx, 1);
  if (xs && is && x.shape.length === 1) {
    elements = is.map((i) => {
      if (!isKnown(i) || i < -xs.length || i >= xs.length) throw new Error(`index ${i} is out of range for ${xs.length} elements`);
      return xs[i < 0 ? i + xs.length : i]!;
    });
  }
  return [withElements({ elemType: x.elemType, shape }, elements)];
}

function whereInfer(ctx: InferContext): TensorInfo[] {
  const ins = [0, 1, 2].map((i) => need(ctx, i));
  return [{ elemType: ins[1]!.elemType, shape: broadcastShapes(ins.map((i) => i.shape)) }];
}

function castInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  const to = attrInt(ctx.node, 'to');
  if (to === undefined) throw new Error("attribute 'to' is required");
  const out: TensorInfo = { elemType: to, shape: x.shape };
  if (FLOAT_TYPES.has(to)) return [withElements(out, x.value)];
  if (to === DT.BOOL) return [withElements(out, x.value?.map((v) => (v !== 0 ? 1 : 0)))];
  // Integer targets truncate toward zero; symbolic dims stay dims.
  return [withElements(out, x.value?.map(Math.trunc) ?? x.dimValues)];
}

// ---------------------------------------------------------------------------------------------
// Gradient rules

// Y = Slice(X) ⇒ dX = zeros(X) with dY written at the selected positions.
function sliceGrad(ctx: GradContext): (string | undefined)[] {
  if (!ctx.needs(0)) return [];
  const { b } = ctx;
  const x = ctx.x(0);
  const dy = ctx.dy(0)!;
  const xs = ctx.info(x).shape;
  const args = xs ? sliceArgs((i) => (ctx.x(i) ? ctx.constant(ctx.x(i)) : undefined), (i) => !!ctx.x(i), xs.length) : null;
  const ranges = xs && args ? sliceRanges(xs, args) : null;
  if (xs && args && ranges && ranges.every((r) => r.step === 1 && r.length > 0)) {
    // Unit steps: the slice is a box, and zero-padding dY around it gives dX.
    const pads = new Array<number>(2 * xs.length).fill(0);
    args.axes.forEach((a, k) => {
      pads[a] = ranges[k]!.start;
      pads[a + xs.length] = (xs[a] as number) - ranges[k]!.end;
    });
    return [b.op('Pad', [dy, b.ints(pads)], { mode: 'constant' })];
  }
  // Any steps, bounds known only at run time: slice a tensor of flat positions with the forward
  // node's own arguments, so ONNX's clamping rules pick the positions, then scatter dY there.
  const n = b.op('Size', [x]);
  const shapeX = shapeTensor(ctx, x);
  const positions = b.op('Reshape', [b.op('Range', [b.ints([0], []), n, b.ints([1], [])]), shapeX]);
  const picked = b.op('Slice', [positions, ...ctx.node.input.slice(1)]);
  const flat = b.ints([-1]);
  const scattered = b.op('ScatterElements', [zeros(ctx, b.op('Reshape', [n, b.ints([1])])), b.op('Reshape', [picked, flat]), b.op('Reshape', [dy, flat])], { axis: 0 });
  return [b.op('Reshape', [scattered, shapeX])];
}

// Y = Gather(X, I, axis) ⇒ dX = zeros(X) with dY[…, j, …] added at X[…, I[j], …] (repeats add up).
// dY's index dims are moved to the front so that ScatterND (reduction 'add') along a leading
// axis of a transposed X does the accumulation; negative indices are first made positive.
function gatherGrad(ctx: GradContext): (string | undefined)[] {
  if (!ctx.needs(0)) return [];
  const { b, node } = ctx;
  if (ctx.opset < 16) throw new GradientError(node.opType, node.name, `the gradient uses ScatterND with reduction='add', which needs opset 16 (the graph has ${ctx.opset})`);
  const x = ctx.x(0);
  const indices = ctx.x(1);
  const xs = rankedShape(ctx, x);
  const is = rankedShape(ctx, indices);
  const r = xs.length;
  const q = is.length;
  const axis = normAxis(attrInt(node, 'axis', 0), r);

  let idx: string;
  const constIdx = ctx.constant(indices);
  const dim = xs[axis]!;
  if (constIdx && isKnown(dim) && is.every(isKnown)) idx = b.ints(constIdx.map((i) => (i < 0 ? i + dim : i)), is as number[]);
  else {
    const idx64 = ctx.info(indices).elemType === DT.INT64 ? indices : b.op('Cast', [indices], { to: DT.INT64 });
    const dimT = isKnown(dim) ? b.ints([dim], []) : b.op('Gather', [b.op('Shape', [x]), b.ints([axis], [])], { axis: 0 });
    idx = b.op('Where', [b.op('Less', [idx64, b.ints([0], [])]), b.op('Add', [idx64, dimT]), idx64]);
  }
  const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
  // dY is X[:axis] + I + X[axis+1:]; bring I to the front.
  const dyPerm = [...range(axis, axis + q), ...range(0, axis), ...range(axis + q, r - 1 + q)];
  const dy = axis === 0 ? ctx.dy(0)! : b.op('Transpose', [ctx.dy(0)!], { perm: dyPerm });
  const xPerm = [axis, ...range(0, axis), ...range(axis + 1, r)];
  const acc = b.op('ScatterND', [zeros(ctx, dimsTensor(ctx, x, xPerm)), b.op('Unsqueeze', [idx, b.ints([-1])]), dy], { reduction: 'add' });
  return [axis === 0 ? acc : b.op('Transpose', [acc], { perm: inversePerm(xPerm) })];
}

// Y = Tile(X, R) ⇒ dX[i] = Σ over the R copies of dY: view dY as [r0,d0,r1,d1,…], sum the r axes.
function tileGrad(ctx: GradContext): (string | undefined)[] {
  if (!ctx.needs(0)) return [];
  const { b } = ctx;
  const x = ctx.x(0);
  const xs = rankedShape(ctx, x);
  const repeats = ctx.constant(ctx.x(1));
  let interleaved: string;
  if (repeats && xs.every(isKnown)) interleaved = b.ints(xs.flatMap((d, i) => [repeats[i]!, d as number]));
  else {
    const pair = b.op('Concat', [b.op('Unsqueeze', [ctx.x(1), b.ints([1])]), b.op('Unsqueeze', [b.op('Shape', [x]), b.ints([1])])], { axis: 1 });
    interleaved = b.op('Reshape', [pair, b.ints([-1])]);
  }
  const blocks = b.op('Reshape', [ctx.dy(0)!, interleaved]);
  return [b.op('ReduceSum', [blocks, b.ints(xs.map((_, i) => 2 * i))], { keepdims: 0 })];
}

export const shapeRules: RuleTable = {
  // Y = X ⇒ dX = dY
  Identity: { infer: (ctx) => [ctx.input(0)!], grad: (ctx) => [ctx.dy(0)] },

  // Y = X viewed as 2-D ⇒ dX = dY viewed as X
  Flatten: { infer: flattenInfer, grad: reshapeBack },

  // Y = X viewed with another shape ⇒ dX = dY viewed as X
  Reshape: { infer: reshapeInfer, grad: reshapeBack, nondiff: [1] },

  // Y = X with a 1-dim removed ⇒ dX = Unsqueeze(dY, axes) (a reshape when axes are implied)
  Squeeze: {
    infer: squeezeInfer,
    grad: (ctx) => (ctx.needs(0) && ctx.x(1) ? [ctx.b.op('Unsqueeze', [ctx.dy(0)!, ctx.x(1)])] : reshapeBack(ctx)),
    nondiff: [1],
  },

  // Y = X with 1-dims inserted ⇒ dX = Squeeze(dY, axes)
  Unsqueeze: {
    infer: unsqueezeInfer,
    grad: (ctx) => (ctx.needs(0) ? [ctx.b.op('Squeeze', [ctx.dy(0)!, ctx.x(1)])] : []),
    nondiff: [1],
  },

  // Y = Xᵀ(perm) ⇒ dX = dYᵀ(perm⁻¹)
  Transpose: {
    infer: transposeInfer,
    grad: (ctx) => {
      if (!ctx.needs(0)) return [];
      const perm = transposePerm(ctx.node, rankedShape(ctx, ctx.x(0)).length);
      return [ctx.b.op('Transpose', [ctx.dy(0)!], { perm: inversePerm(perm) })];
    },
  },

  // Y = [X₁ X₂ … Xₖ] along axis ⇒ dXᵢ = the i-th block of dY (Split at the inputs' sizes)
  Concat: {
    infer: concatInfer,
    grad: (ctx) => {
      const { b, node } = ctx;
      const rank = rankedShape(ctx, ctx.y(0)).length;
      const axis = normAxis(attrInt(node, 'axis', 0), rank);
      const sizes = node.input.map((x) => ctx.info(x).shape?.[axis] ?? UNKNOWN);
      const split = sizes.every(isKnown) ? b.ints(sizes as number[]) : b.op('Concat', node.input.map((x) => dimsTensor(ctx, x, [axis])), { axis: 0 });
      const parts = b.add('Split', [ctx.dy(0)!, split], { axis }, node.input.length, 'concat_grad');
      return parts.map((p, i) => (ctx.needs(i) ? p : undefined));
    },
  },

  // [Y₁ … Yₖ] = Split(X) ⇒ dX = [dY₁ … dYₖ] along axis, zeros for outputs the loss does not use
  Split: {
    infer: splitInfer,
    grad: (ctx) => {
      if (!ctx.needs(0)) return [];
      const rank = rankedShape(ctx, ctx.x(0)).length;
      const axis = normAxis(attrInt(ctx.node, 'axis', 0), rank);
      const parts = ctx.node.output.map((y, i) => ctx.dy(i) ?? zeros(ctx, shapeTensor(ctx, y)));
      return [ctx.b.op('Concat', parts, { axis })];
    },
    nondiff: [1],
  },

  Slice: { infer: sliceInfer, grad: sliceGrad, nondiff: [1, 2, 3, 4] },

  // Y = broadcast(X, shape) ⇒ dX = dY summed over the broadcast axes
  Expand: {
    infer: expandInfer,
    grad: (ctx) => (ctx.needs(0) ? [sumToShape(ctx, ctx.dy(0)!, ctx.x(0), ctx.info(ctx.y(0)).shape)] : []),
    nondiff: [1],
  },

  Tile: { infer: tileInfer, grad: tileGrad, nondiff: [1] },

  Gather: { infer: gatherInfer, grad: gatherGrad, nondiff: [1] },

  // Y = C ? A : B ⇒ dA = C ? dY : 0, dB = C ? 0 : dY (each summed back over its broadcast axes)
  Where: {
    infer: whereInfer,
    grad: (ctx) => {
      const { b } = ctx;
      const dy = ctx.dy(0)!;
      const cond = ctx.x(0);
      const zero = b.scalar(0);
      const yShape = ctx.info(ctx.y(0)).shape;
      const branch = (i: 1 | 2): string | undefined => {
        if (!ctx.needs(i)) return undefined;
        const g = b.op('Where', [cond, ...(i === 1 ? [dy, zero] : [zero, dy])]);
        return sumToShape(ctx, g, ctx.x(i), yShape);
      };
      return [undefined, branch(1), branch(2)];
    },
    nondiff: [0],
  },

  // Y = cast(X) ⇒ dX = cast(dY) back to X's type, between float types only (a value that went
  // through an integer type carries no gradient)
  Cast: {
    infer: castInfer,
    grad: (ctx) => {
      const from = ctx.info(ctx.x(0)).elemType;
      const to = attrInt(ctx.node, 'to')!;
      if (!ctx.needs(0) || !FLOAT_TYPES.has(from) || !FLOAT_TYPES.has(to)) return [];
      return [from === to ? ctx.dy(0) : ctx.b.op('Cast', [ctx.dy(0)!], { to: from })];
    },
  },
};

