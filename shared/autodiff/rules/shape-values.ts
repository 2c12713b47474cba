/**
 * Compile-time reasoning about the small integer tensors that carry shapes (Shape outputs,
 * Reshape targets, Slice bounds) and about the shapes they produce. Shared by the shape-op rules
 * (shape.ts) and the no-gradient rules (nograd.ts).
 */
import type { InferContext } from '../registry.js';
import { UNKNOWN, isKnown, numel, type Dim, type Shape, type TensorInfo } from '../../onnx/shapes.js';

/** Larger folded tensors are data, not shape arguments; folding them only costs memory. */
export const MAX_FOLDED = 4096;

/** Elements of input i known at compile time (numbers, or symbols for dims), else undefined. */
export function elementsOf(ctx: InferContext, i: number): Dim[] | undefined {
  if (!ctx.node.input[i]) return undefined;
  const info = ctx.input(i);
  return ctx.constant(i) ?? info?.value ?? info?.dimValues;
}

/** `info` with folded elements attached: `value` when all are numbers, `dimValues` otherwise. */
export function withElements(info: TensorInfo, elements: readonly Dim[] | undefined): TensorInfo {
  if (!elements || elements.length > MAX_FOLDED) return info;
  if (elements.every(isKnown)) return { ...info, value: [...elements] };
  return { ...info, dimValues: [...elements] };
}

/** The length of a 1-D input when its shape says so (a Reshape target's rank, a Slice's axis count). */
export function lengthOf(info: TensorInfo | undefined): number | undefined {
  const s = info?.shape;
  if (!s) return undefined;
  if (s.length === 0) return 1;
  return s.length === 1 && isKnown(s[0]!) ? s[0] : undefined;
}

/**
 * Product of dims: a number when all are known, the symbol itself when it is the only factor
 * other than 1s (Flatten of ['N',1] stays 'N'), '?' otherwise.
 */
export function dimProduct(dims: readonly Dim[]): Dim {
  const n = numel([...dims]);
  if (n !== undefined) return n;
  const rest = dims.filter((d) => d !== 1);
  return rest.length === 1 ? rest[0]! : UNKNOWN;
}

/**
 * Output shape of Reshape(X, target): 0 copies X's dim (unless allowzero), −1 takes what is left.
 * Symbols cancel when inferring −1, so ['N',2,3,4] → ['N',−1] gives ['N',24].
 */
export function reshapeShape(input: Shape | undefined, target: readonly Dim[], allowzero: boolean): Shape {
  const out: Dim[] = target.map((t, i) => {
    if (t === 0 && !allowzero) {
      if (!input) return UNKNOWN;
      if (i >= input.length) throw new Error(`target entry ${i} is 0 but the input has rank ${input.length}`);
      return input[i]!;
    }
    return t;
  });
  const inferred = out.flatMap((d, i) => (d === -1 ? [i] : []));
  if (inferred.length > 1) throw new Error(`target [${target.join(',')}] has more than one -1`);
  if (inferred.length === 1) out[inferred[0]!] = input ? remainingDim(input, out, inferred[0]!) : UNKNOWN;
  if (input) {
    const want = numel(input);
    const got = numel(out);
    if (want !== undefined && got !== undefined && want !== got) throw new Error(`cannot reshape [${input.join(',')}] (${want} elements) to [${out.join(',')}] (${got} elements)`);
  }
  return out;
}

/** The dim at `at` that makes `out` hold as many elements as `input`, cancelling shared symbols. */
function remainingDim(input: Shape, out: readonly Dim[], at: number): Dim {
  let knownIn = 1;
  const symbols: string[] = [];
  for (const d of input) {
    if (typeof d === 'number') knownIn *= d;
    else if (d === UNKNOWN) return UNKNOWN;
    else symbols.push(d);
  }
  let knownOut = 1;
  for (let j = 0; j < out.length; j++) {
    if (j === at) continue;
    const d = out[j]!;
    if (typeof d === 'number') knownOut *= d;
    else {
      const k = d === UNKNOWN ? -1 : symbols.indexOf(d);
      if (k < 0) return UNKNOWN;
      symbols.splice(k, 1);
    }
  }
  if (symbols.length > 0 || knownOut === 0) return UNKNOWN;
  if (knownIn % knownOut !== 0) throw new Error(`cannot reshape [${input.join(',')}] to [${out.join(',')}]: ${knownIn} elements do not divide by ${knownOut}`);
  return knownIn / knownOut;
}

/** One axis of a Slice after ONNX's normalisation: negative bounds counted from the end, then clamped. */
export interface SliceRange {
  start: number;
  end: number;
  step: number;
  /** Number of elements selected along the axis. */
  length: number;
}

/** ONNX Slice semantics for one axis of a known length (ends such as INT64_MAX clamp to the dim). */
export function sliceRange(dim: number, start: number, end: number, step: number): SliceRange {
  if (step === 0) throw new Error('Slice step must not be 0');
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
  } else {
    s = clamp(s, 0, dim - 1);
    e = clamp(e, -1, dim - 1);
  }
  return { start: s, end: e, step, length: Math.max(0, Math.ceil((e - s) / step)) };
}

/** Whether a slice keeps a whole axis of any length (0:INT_MAX:1, or −1:−INT_MAX:−1 reversed). */
export function coversWholeAxis(start: number, end: number, step: number): boolean {
  const huge = 2 ** 31 - 1;
  if (step === 1) return start === 0 || start <= -huge ? end >= huge : false;
  if (step === -1) return (start === -1 || start >= huge) && end <= -huge;
  return false;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

/**
 * Folds an elementwise op over static, fully known operands with numpy broadcasting.
 * Returns undefined when a shape or a value is not known.
 */
export function foldElementwise(operands: readonly (TensorInfo | undefined)[], values: readonly (readonly number[] | undefined)[], shape: Shape | undefined, f: (...xs: number[]) => number): number[] | undefined {
  if (!shape || !shape.every(isKnown)) return undefined;
  const total = numel(shape)!;
  if (total > MAX_FOLDED) return undefined;
  const dims = shape as number[];
  const strides: number[][] = [];
  for (let k = 0; k < operands.length; k++) {
    const s = operands[k]?.shape;
    const v = values[k];
    if (!s || !v || !s.every(isKnown) || numel(s) !== v.length) return undefined;
    // Stride 0 along broadcast axes, so the same element is read again.
    const st = new Array<number>(dims.length).fill(0);
    let acc = 1;
    for (let j = s.length - 1; j >= 0; j--) {
      const outAxis = dims.length - s.length + j;
      st[outAxis] = s[j] === 1 ? 0 : acc;
      acc *= s[j] as number;
    }
    strides.push(st);
  }
  const out = new Array<number>(total);
  const index = new Array<number>(dims.length).fill(0);
  for (let flat = 0; flat < total; flat++) {
    out[flat] = f(...values.map((v, k) => v![index.reduce((p, ix, j) => p + ix * strides[k]![j]!, 0)]!));
    for (let j = dims.length - 1; j >= 0; j--) {
      if (++index[j]! < dims[j]!) break;
      index[j] = 0;
    }
  }
  return out;
}
