/**
 * Static tensor descriptions used by shape inference and gradient rules.
 * A dimension is a number when known, a symbol ('N') when named but unknown, or '?' when nothing
 * is known. Rules use them to pick static code (a fixed Transpose perm, a known reduction axis)
 * and fall back to runtime Shape ops where a dimension is not known.
 */
export type Dim = number | string;
export type Shape = Dim[];

export interface TensorInfo {
  /** TensorProto.DataType of the elements. */
  elemType: number;
  /** undefined when even the rank is unknown. */
  shape: Shape | undefined;
  /** Values, when a shape rule could fold them (Shape of a static tensor, Concat of those...). */
  value?: number[];
  /**
   * Elements of a small integer tensor that holds dimensions, when some are only known as
   * symbols: Shape(X) of an ['N',2,3,4] tensor is ['N',2,3,4]. Set instead of `value` when not
   * every element is a number, so that Shape→Gather→Unsqueeze→Concat→Reshape keeps the rank and
   * the known dims of its result through a symbolic batch dimension.
   */
  dimValues?: Dim[];
}

export const UNKNOWN: Dim = '?';

export function sameDim(a: Dim, b: Dim): boolean {
  return a === b && a !== UNKNOWN;
}

export function isKnown(d: Dim): d is number {
  return typeof d === 'number';
}

/** Product of dims when all are known. */
export function numel(shape: Shape): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

/** Numpy (multidirectional) broadcasting of shapes; undefined when a rank is unknown. */
export function broadcastShapes(shapes: (Shape | undefined)[]): Shape | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const rank = Math.max(...shapes.map((s) => s!.length));
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s!.length - rank + i;
      if (k < 0) continue;
      const e = s![k]!;
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (d !== e) d = typeof d === 'number' && typeof e === 'number' ? Number.NaN : typeof d === 'number' ? d : typeof e === 'number' ? e : UNKNOWN;
    }
    if (Number.isNaN(d)) throw new Error(`shapes [${shapes.map((s) => `[${s}]`).join(', ')}] do not broadcast`);
    out.push(d);
  }
  return out;
}

/** Normalises a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function formatShape(s: Shape | undefined): string {
  return s === undefined ? '[?...]' : `[${s.join(',')}]`;
}
