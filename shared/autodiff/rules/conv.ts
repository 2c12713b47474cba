/**
 * Shape and gradient rules for Conv (1-D, 2-D and higher; strides, dilations, explicit or
 * automatic pads, groups, optional bias). The backward pass uses standard ops only:
 * dX is a ConvTranspose of dY, dW a Conv over the batch axis, dB a ReduceSum.
 */
import type { RuleTable, InferContext, GradContext } from '../registry.js';
import type { NodeProto } from '../../proto/gen/onnx.js';
import { attrInt, attrInts, attrString } from '../../onnx/attributes.js';
import { OnnxShapeError } from '../../onnx/errors.js';
import { formatShape, isKnown, UNKNOWN, type Dim, type Shape, type TensorInfo } from '../../onnx/shapes.js';
import { need } from './common.js';
import { GradientError } from '../errors.js';

type AutoPad = 'NOTSET' | 'VALID' | 'SAME_UPPER' | 'SAME_LOWER';

/** Conv attributes with ONNX's defaults filled in; pads stay unresolved for SAME_* (they depend on the input size). */
interface ConvAttrs {
  autoPad: AutoPad;
  group: number;
  kernel: Dim[];
  strides: number[];
  dilations: number[];
  /** Explicit [begin..., end...] pads for NOTSET and VALID; undefined for SAME_*. */
  pads: number[] | undefined;
}

function convAttrs(node: NodeProto, spatialRank: number, wShape: Shape | undefined, fail: (msg: string) => Error): ConvAttrs {
  const autoPad = attrString(node, 'auto_pad', 'NOTSET') as AutoPad;
  if (!['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPad)) throw fail(`auto_pad '${autoPad}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER`);
  const ones = Array.from({ length: spatialRank }, () => 1);
  const kernelAttr = attrInts(node, 'kernel_shape');
  const kernelW = wShape ? wShape.slice(2) : undefined;
  if (kernelAttr && kernelW && kernelAttr.some((k, i) => isKnown(kernelW[i]!) && kernelW[i] !== k))
    throw fail(`kernel_shape [${kernelAttr}] disagrees with W's shape ${formatShape(wShape)}`);
  const kernel: Dim[] = kernelAttr ?? kernelW ?? Array.from({ length: spatialRank }, () => UNKNOWN);
  const strides = attrInts(node, 'strides', ones);
  const dilations = attrInts(node, 'dilations', ones);
  const padsAttr = attrInts(node, 'pads');
  let pads: number[] | undefined;
  if (autoPad === 'NOTSET') pads = padsAttr ?? Array.from({ length: 2 * spatialRank }, () => 0);
  else if (autoPad === 'VALID') pads = Array.from({ length: 2 * spatialRank }, () => 0);
  for (const [name, v, len] of [['kernel', kernel, spatialRank], ['strides', strides, spatialRank], ['dilations', dilations, spatialRank], ['pads', pads, 2 * spatialRank]] as const)
    if (v && v.length !== len) throw fail(`${name} has ${v.length} values, the input has ${spatialRank} spatial axes (expected ${len})`);
  if (strides.some((s) => s < 1) || dilations.some((d) => d < 1)) throw fail(`strides [${strides}] and dilations [${dilations}] must be ≥ 1`);
  if (pads?.some((p) => p < 0)) throw fail(`pads [${pads}] must be ≥ 0`);
  return { autoPad, group: attrInt(node, 'group', 1), kernel, strides, dilations, pads };
}

/** Kernel extent once dilated: (k−1)·d + 1. */
function dilatedKernel(k: number, d: number): number {
  return (k - 1) * d + 1;
}

/**
 * Explicit [begin, end] pads of one axis for SAME_UPPER/SAME_LOWER (output = ⌈in/stride⌉; an odd
 * total goes to the end for SAME_UPPER, to the beginning for SAME_LOWER), as ONNX and onnxruntime do.
 */
function samePads(autoPad: AutoPad, input: number, k: number, s: number, d: number): [number, number] {
  const out = Math.ceil(input / s);
  const total = Math.max(0, (out - 1) * s + dilatedKernel(k, d) - input);
  const small = Math.floor(total / 2);
  return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
}

/** Output size of one spatial axis: ⌊(in + pad_begin + pad_end − ((k−1)·d + 1)) / stride⌋ + 1. */
function outputSize(input: number, k: number, s: number, d: number, padBegin: number, padEnd: number): number {
  return Math.floor((input + padBegin + padEnd - dilatedKernel(k, d)) / s) + 1;
}

function convInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  const w = need(ctx, 1);
  const fail = (msg: string) => new OnnxShapeError(ctx.node.name, ctx.node.opType, msg);
  const rank = x.shape?.length ?? w.shape?.length;
  if (rank === undefined) return [{ elemType: x.elemType, shape: undefined }];
  if (rank < 3) throw fail(`X must have rank ≥ 3 ([N, C, spatial...]), got ${formatShape(x.shape ?? w.shape)}`);
  if (x.shape && w.shape && x.shape.length !== w.shape.length) throw fail(`X ${formatShape(x.shape)} and W ${formatShape(w.shape)} must have the same rank`);
  const a = convAttrs(ctx.node, rank - 2, w.shape, fail);
  const c = x.shape?.[1];
  const cg = w.shape?.[1];
  const m = w.shape?.[0] ?? UNKNOWN;
  if (c !== undefined && cg !== undefined && isKnown(c) && isKnown(cg) && c !== cg * a.group)
    throw fail(`X has ${c} channels but W ${formatShape(w.shape)} with group=${a.group} expects ${cg} × ${a.group} = ${cg * a.group}`);
  if (isKnown(m) && m % a.group !== 0) throw fail(`W has ${m} output channels, not a multiple of group=${a.group}`);
  const bias = ctx.input(2);
  if (bias?.shape && (bias.shape.length !== 1 || (isKnown(bias.shape[0]!) && isKnown(m) && bias.shape[0] !== m)))
    throw fail(`B must have shape [${m}], got ${formatShape(bias.shape)}`);
  const spatial: Dim[] = [];
  for (let i = 0; i < rank - 2; i++) {
    const input = x.shape?.[i + 2] ?? UNKNOWN;
    const k = a.kernel[i]!;
    const s = a.strides[i]!;
    const d = a.dilations[i]!;
    if (!isKnown(input)) spatial.push(UNKNOWN);
    else if (a.pads === undefined) spatial.push(Math.ceil(input / s));
    else if (!isKnown(k)) spatial.push(UNKNOWN);
    else {
      const out = outputSize(input, k, s, d, a.pads[i]!, a.pads[i + rank - 2]!);
      if (out < 1) throw fail(`spatial axis ${i + 2}: input ${input} padded by [${a.pads[i]}, ${a.pads[i + rank - 2]}] is smaller than the dilated kernel ${dilatedKernel(k, d)}`);
      spatial.push(out);
    }
  }
  return [{ elemType: x.elemType, shape: [x.shape?.[0] ?? UNKNOWN, m, ...spatial] }];
}

/** Everything the backward pass needs, all static (only the batch dim may be symbolic). */
interface ConvGeometry {
  spatialRank: number;
  group: number;
  /** Output channels M and input channels per group C/group (W is [M, C/group, k...]). */
  outChannels: number;
  inPerGroup: number;
  input: number[];
  kernel: number[];
  output: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
}

function convGeometry(ctx: GradContext): ConvGeometry {
  const { node } = ctx;
  const fail = (msg: string) => new GradientError(node.opType, node.name, msg);
  const xs = ctx.info(ctx.x(0)).shape;
  const ws = ctx.info(ctx.x(1)).shape;
  if (!xs || !ws) throw fail(`the shapes of X (${formatShape(xs)}) and W (${formatShape(ws)}) must have known ranks`);
  const spatialRank = xs.length - 2;
  const input = xs.slice(2);
  if (!input.every(isKnown)) throw fail(`the backward pass needs X's spatial dims statically, got ${formatShape(xs)} (only the batch dim may be symbolic)`);
  if (!ws.every(isKnown)) throw fail(`the backward pass needs W's shape statically, got ${formatShape(ws)}`);
  const a = convAttrs(node, spatialRank, ws, fail);
  const kernel = ws.slice(2) as number[];
  const padsBegin: number[] = [];
  const padsEnd: number[] = [];
  for (let i = 0; i < spatialRank; i++) {
    const [pb, pe] = a.pads ? [a.pads[i]!, a.pads[i + spatialRank]!] : samePads(a.autoPad, input[i]!, kernel[i]!, a.strides[i]!, a.dilations[i]!);
    padsBegin.push(pb);
    padsEnd.push(pe);
  }
  const output = input.map((h, i) => outputSize(h, kernel[i]!, a.strides[i]!, a.dilations[i]!, padsBegin[i]!, padsEnd[i]!));
  return { spatialRank, group: a.group, outChannels: ws[0] as number, inPerGroup: ws[1] as number, input, kernel, output, strides: a.strides, dilations: a.dilations, padsBegin, padsEnd };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

// dX is the adjoint of the convolution: the transposed convolution of dY with the same W, strides,
// dilations and groups. ConvTranspose yields s·(Ho−1) + output_padding + (k−1)·d + 1 − pads values
// per axis, so output_padding = the r = (H + pb + pe − (k−1)·d − 1) mod s input positions at the end
// that no output window reached (their gradient is 0). cuDNN has no asymmetric pads (onnxruntime's
// CUDA provider drops such a ConvTranspose to the CPU), so the transposed conv uses min(pb, pe) on
// both sides and a Slice removes what is left.
function inputGradient(ctx: GradContext, g: ConvGeometry, dy: string): string {
  const { b } = ctx;
  const symmetric = g.padsBegin.map((pb, i) => Math.min(pb, g.padsEnd[i]!));
  const outputPadding = g.input.map((h, i) => (h + g.padsBegin[i]! + g.padsEnd[i]! - dilatedKernel(g.kernel[i]!, g.dilations[i]!)) % g.strides[i]!);
  let dx = b.op(
    'ConvTranspose',
    [dy, ctx.x(1)],
    {
      strides: g.strides,
      dilations: g.dilations,
      group: g.group,
      pads: [...symmetric, ...symmetric],
      output_padding: outputPadding.some((p) => p > 0) ? outputPadding : undefined,
    },
    'conv_dX',
  );
  const starts = g.padsBegin.map((pb, i) => pb - symmetric[i]!);
  if (starts.some((s, i) => s > 0 || g.padsEnd[i]! > symmetric[i]!)) {
    const ends = starts.map((s, i) => s + g.input[i]!);
    dx = b.op('Slice', [dx, b.ints(starts), b.ints(ends), b.ints(range(2, 2 + g.spatialRank))], {}, 'conv_dX_crop');
  }
  return dx;
}

// dW[m, c, j] = Σ_n Σ_o dY[n, m, o] · Xpad[n, g·Cg + c, o·s + j·d] for m in group g: a correlation
// over the batch axis. Read X as a batch of Cg images whose channels are (group, n), and dY as M
// kernels of N channels each (group-major, so channel block g of X meets kernels g·Mg..g·Mg+Mg−1);
// then a Conv with group=G, strides = forward dilations, dilations = forward strides and the
// forward begin pads gives [Cg, M, k...], transposed to W's [M, Cg, k...]. The end pad only reaches
// as far as the last window did, (k−1)·d + (Ho−1)·s + 1, so the result is exactly k wide; where the
// input itself runs past that point (rows no window read), the extra outputs are sliced off.
function weightGradient(ctx: GradContext, g: ConvGeometry, dy: string): string {
  const { b } = ctx;
  const sp = g.spatialRank;
  const spatialAxes = range(2, 2 + sp);
  const outPerGroup = g.outChannels / g.group;
  let images: string; // [Cg, G·N, H...]
  let kernels: string; // [M, N, Ho...]
  if (g.group === 1) {
    images = b.op('Transpose', [ctx.x(0)], { perm: [1, 0, ...spatialAxes] }, 'conv_dW_images');
    kernels = b.op('Transpose', [dy], { perm: [1, 0, ...spatialAxes] }, 'conv_dW_kernels');
  } else {
    const perGroupX = b.op('Reshape', [ctx.x(0), b.ints([-1, g.group, g.inPerGroup, ...g.input])]); // [N, G, Cg, H...]
    const cgFirst = b.op('Transpose', [perGroupX], { perm: [2, 1, 0, ...range(3, 3 + sp)] }); // [Cg, G, N, H...]
    images = b.op('Reshape', [cgFirst, b.ints([g.inPerGroup, -1, ...g.input])], {}, 'conv_dW_images');
    const perGroupDy = b.op('Reshape', [dy, b.ints([-1, g.group, outPerGroup, ...g.output])]); // [N, G, Mg, Ho...]
    const nLast = b.op('Transpose', [perGroupDy], { perm: [1, 2, 0, ...range(3, 3 + sp)] }); // [G, Mg, N, Ho...]
    kernels = b.op('Reshape', [nLast, b.ints([g.outChannels, -1, ...g.output])], {}, 'conv_dW_kernels');
  }
  const reach = g.kernel.map((k, i) => dilatedKernel(k, g.dilations[i]!) + (g.output[i]! - 1) * g.strides[i]!);
  const endPads = reach.map((r, i) => Math.max(0, r - g.input[i]! - g.padsBegin[i]!));
  let dw = b.op('Conv', [images, kernels], { strides: g.dilations, dilations: g.strides, pads: [...g.padsBegin, ...endPads], group: g.group }, 'conv_dW_corr');
  const produced = g.input.map((h, i) => outputSize(h, g.output[i]!, g.dilations[i]!, g.strides[i]!, g.padsBegin[i]!, endPads[i]!));
  if (produced.some((p, i) => p !== g.kernel[i])) dw = b.op('Slice', [dw, b.ints(g.kernel.map(() => 0)), b.ints(g.kernel), b.ints(spatialAxes)], {}, 'conv_dW_crop');
  return b.op('Transpose', [dw], { perm: [1, 0, ...spatialAxes] }, 'conv_dW');
}

// Y = Conv(X, W) + B[m] ⇒ dX = ConvTranspose(dY, W), dW = Conv over the batch axis of X with dY,
// dB[m] = Σ over N and spatial axes of dY[:, m, ...].
function convGrad(ctx: GradContext): (string | undefined)[] {
  const { b, node } = ctx;
  const dy = ctx.dy(0)!;
  const geometry = ctx.needs(0) || ctx.needs(1) ? convGeometry(ctx) : undefined;
  let dB: string | undefined;
  if (ctx.x(2) && ctx.needs(2)) {
    const rank = ctx.info(ctx.x(0)).shape?.length ?? ctx.info(ctx.x(1)).shape?.length;
    if (rank === undefined) throw new GradientError(node.opType, node.name, 'the bias gradient needs the rank of X or W');
    dB = b.op('ReduceSum', [dy, b.ints([0, ...range(2, rank)])], { keepdims: 0 }, 'conv_dB');
  }
  return [ctx.needs(0) ? inputGradient(ctx, geometry!, dy) : undefined, ctx.needs(1) ? weightGradient(ctx, geometry!, dy) : undefined, dB];
}

export const convRules: RuleTable = {
  Conv: { infer: convInfer, grad: convGrad },
};
