/**
 * Window arithmetic of the pooling ops (MaxPool, AveragePool): kernel, strides, dilations and
 * explicit pads per spatial axis, and the pooled size of an axis. Shared by their shape rules and
 * their gradient rules, so that both agree with each other and with onnxruntime's kernels.
 */
import type { NodeProto } from '../../proto/gen/onnx.js';
import { attrInt, attrInts, attrString } from '../../onnx/attributes.js';
import { OnnxShapeError } from '../../onnx/errors.js';
import { isKnown, UNKNOWN, type Dim } from '../../onnx/shapes.js';

export interface PoolGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Pads before and after each spatial axis, with auto_pad resolved (undefined entries: not known). */
  padsBegin: (number | undefined)[];
  padsEnd: (number | undefined)[];
  ceilMode: boolean;
  autoPad: 'NOTSET' | 'VALID' | 'SAME_UPPER' | 'SAME_LOWER';
}

/**
 * Reads the pooling attributes of `node` for an input whose spatial dims are `spatial`.
 * SAME_UPPER / SAME_LOWER pads depend on the input size, so they are known only for known dims.
 */
export function poolGeometry(node: NodeProto, spatial: readonly Dim[]): PoolGeometry {
  const fail = (msg: string) => new OnnxShapeError(node.name, node.opType, msg);
  const kernel = attrInts(node, 'kernel_shape');
  if (!kernel) throw fail('attribute kernel_shape is required');
  const r = kernel.length;
  if (spatial.length !== r) throw fail(`kernel_shape [${kernel}] has ${r} axes but the input has ${spatial.length} spatial axes`);
  const strides = attrInts(node, 'strides', kernel.map(() => 1));
  const dilations = attrInts(node, 'dilations', kernel.map(() => 1));
  const pads = attrInts(node, 'pads', new Array<number>(2 * r).fill(0));
  if (strides.length !== r || dilations.length !== r || pads.length !== 2 * r) throw fail(`strides [${strides}], dilations [${dilations}] or pads [${pads}] do not fit kernel_shape [${kernel}]`);
  if (kernel.some((k) => k < 1) || strides.some((s) => s < 1) || dilations.some((d) => d < 1)) throw fail('kernel_shape, strides and dilations must be positive');
  const autoPad = attrString(node, 'auto_pad', 'NOTSET') as PoolGeometry['autoPad'];
  const ceilMode = attrInt(node, 'ceil_mode', 0) === 1;
  let padsBegin: (number | undefined)[] = pads.slice(0, r);
  let padsEnd: (number | undefined)[] = pads.slice(r);
  if (autoPad === 'VALID') {
    padsBegin = kernel.map(() => 0);
    padsEnd = kernel.map(() => 0);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    // Output = ⌈S/s⌉; the total padding that yields it is split with the odd one at the end (UPPER) or start (LOWER).
    const total = spatial.map((d, i) => (isKnown(d) ? Math.max(0, (Math.ceil(d / strides[i]!) - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - d) : undefined));
    padsBegin = total.map((t) => (t === undefined ? undefined : autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2)));
    padsEnd = total.map((t, i) => (t === undefined ? undefined : t - padsBegin[i]!));
  } else if (autoPad !== 'NOTSET') throw fail(`auto_pad '${autoPad}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER`);
  return { kernel, strides, dilations, padsBegin, padsEnd, ceilMode, autoPad };
}

/**
 * Pooled size of spatial axis i: ⌊(S + p₀ + p₁ − ((k−1)·d + 1)) / s⌋ + 1, with ⌈⌉ under ceil_mode,
 * where a last window that would start beyond the input and its leading pad is dropped (the
 * rule of PyTorch and of onnxruntime's kernels).
 */
export function pooledDim(g: PoolGeometry, i: number, inDim: Dim): Dim {
  const pb = g.padsBegin[i];
  const pe = g.padsEnd[i];
  if (!isKnown(inDim) || pb === undefined || pe === undefined) return UNKNOWN;
  const s = g.strides[i]!;
  const span = inDim + pb + pe - ((g.kernel[i]! - 1) * g.dilations[i]! + 1);
  if (span < 0) throw new Error(`the window (${g.kernel[i]} with dilation ${g.dilations[i]}) is larger than the padded input (${inDim} + ${pb} + ${pe}) on spatial axis ${i}`);
  if (!g.ceilMode) return Math.floor(span / s) + 1;
  let out = Math.ceil(span / s) + 1;
  if ((out - 1) * s >= inDim + pb) out--;
  return out;
}

/** Pooled sizes of all spatial axes. */
export function pooledShape(g: PoolGeometry, spatial: readonly Dim[]): Dim[] {
  return spatial.map((d, i) => pooledDim(g, i, d));
}
