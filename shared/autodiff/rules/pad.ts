/**
 * Shape and gradient rules for Pad (opset 11+: pads, and the optional constant_value and, from
 * opset 18, axes, are inputs). torch 1.13 writes a zero-width constant Pad before every
 * AvgPool2d at opsets 13/14.
 *
 * pads = [b₁ … b_k, e₁ … e_k] for the padded axes (all axes unless `axes` is given): bᵢ elements
 * before and eᵢ after axis i; a negative entry crops instead.
 */
import type { RuleTable, InferContext, GradContext } from '../registry.js';
import { attrString } from '../../onnx/attributes.js';
import { UNKNOWN, isKnown, normAxis, numel, type Dim, type TensorInfo } from '../../onnx/shapes.js';
import { float32Tensor } from '../../onnx/tensor.js';
import { need } from './common.js';
import { elementsOf } from './shape-values.js';
import { GradientError } from '../errors.js';

/** Pad's modes (wrap from opset 19): every output element is a copy of one input element or constant_value. */
const MODES = ['constant', 'reflect', 'edge', 'wrap'] as const;

/** For each axis of a rank-`rank` tensor, [before, after] when known; null when pads or axes are only known at run time. */
function padsPerAxis(pads: readonly Dim[] | undefined, axes: readonly Dim[] | undefined, hasAxes: boolean, rank: number): [number, number][] | null {
  if (!pads || !pads.every(isKnown)) return null;
  if (hasAxes && (!axes || !axes.every(isKnown))) return null;
  const padded = hasAxes ? (axes as number[]).map((a) => normAxis(a, rank)) : Array.from({ length: rank }, (_, i) => i);
  if (pads.length !== 2 * padded.length) throw new Error(`pads has ${pads.length} entries for ${padded.length} padded axes (needs 2 per axis)`);
  if (new Set(padded).size !== padded.length) throw new Error(`axes [${axes}] repeat an axis`);
  const out: [number, number][] = Array.from({ length: rank }, () => [0, 0]);
  padded.forEach((a, k) => (out[a] = [pads[k] as number, pads[k + padded.length] as number]));
  return out;
}

function padInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  if (!x.shape) return [{ elemType: x.elemType, shape: undefined }];
  const perAxis = padsPerAxis(elementsOf(ctx, 1), elementsOf(ctx, 3), !!ctx.node.input[3], x.shape.length);
  if (!perAxis) return [{ elemType: x.elemType, shape: x.shape.map(() => UNKNOWN) }];
  const shape = x.shape.map((d, i) => {
    const [before, after] = perAxis[i]!;
    if (before === 0 && after === 0) return d;
    if (!isKnown(d)) return UNKNOWN;
    const out = d + before + after;
    if (out < 0) throw new Error(`pads [${before}, ${after}] crop axis ${i} of size ${d} below zero`);
    return out;
  });
  return [{ elemType: x.elemType, shape }];
}

// constant: Y = Pad(X, p, c) ⇒ dX = Pad(dY, −p): the elements the padding added are cut off
// again, and elements a negative pad cut from X get 0 (cropping and zero-padding are adjoint).
// reflect / edge / wrap: Y[o] = X[s(o)] ⇒ dX[i] = Σ_{o : s(o) = i} dY[o]. The source map s comes
// from the forward op itself, applied to a tensor of X's flat positions, so its border rules
// need no re-deriving; a ScatterElements with reduction 'add' (opset 16) sums the copies.
function padGrad(ctx: GradContext): (string | undefined)[] {
  if (!ctx.needs(0)) return [];
  const { b, node } = ctx;
  const dy = ctx.dy(0)!;
  const x = ctx.x(0);
  const mode = attrString(node, 'mode', 'constant');
  // constant_value is left out of the backward Pads (zero); axes, when given, apply unchanged.
  const padInputs = (data: string, pads: string): string[] => (node.input[3] ? [data, pads, '', ctx.x(3)] : [data, pads]);

  if (mode === 'constant') {
    const pads = ctx.constant(ctx.x(1));
    if (pads) {
      if (pads.every((p) => p === 0)) return [dy];
      return [b.op('Pad', padInputs(dy, b.ints(pads.map((p) => -p))), { mode: 'constant' })];
    }
    return [b.op('Pad', padInputs(dy, b.op('Neg', [ctx.x(1)])), { mode: 'constant' })];
  }
  if (!(MODES as readonly string[]).includes(mode)) throw new GradientError(node.opType, node.name, `mode '${mode}' has no gradient rule (supported: ${MODES.join(', ')})`);
  if (ctx.opset < 16) throw new GradientError(node.opType, node.name, `the gradient of mode '${mode}' uses ScatterElements with reduction='add', which needs opset 16 (the graph has ${ctx.opset})`);
  const xs = ctx.info(x).shape;
  const n = xs ? numel(xs) : undefined;
  const shapeX = xs && n !== undefined ? b.ints(xs as number[]) : b.op('Shape', [x]);
  const count = n !== undefined ? b.ints([n], []) : b.op('Size', [x]);
  const positions = b.op('Reshape', [b.op('Range', [b.ints([0], []), count, b.ints([1], [])]), shapeX], {}, 'pad_positions');
  const sources = b.op('Pad', padInputs(positions, ctx.x(1)), { mode }, 'pad_sources');
  const zeros = b.op('ConstantOfShape', [b.op('Reshape', [count, b.ints([1])])], { value: float32Tensor('zero', [1], [0]) });
  const flat = b.ints([-1]);
  const summed = b.op('ScatterElements', [zeros, b.op('Reshape', [sources, flat]), b.op('Reshape', [dy, flat])], { axis: 0, reduction: 'add' });
  return [b.op('Reshape', [summed, shapeX])];
}

export const padRules: RuleTable = {
  // pads, constant_value and axes are arguments of the op, not values it differentiates.
  Pad: { infer: padInfer, grad: padGrad, nondiff: [1, 2, 3] },
};
