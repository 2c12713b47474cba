/**
 * Shape and gradient rules for the linear-algebra ops: Gemm (2-D, optional transposes and a
 * broadcast C) and MatMul (numpy semantics: batched, broadcast batch dims, 1-D operands).
 */
import type { RuleTable, InferContext, GradContext } from '../registry.js';
import { attrFloat, attrInt } from '../../onnx/attributes.js';
import { OnnxShapeError } from '../../onnx/errors.js';
import { broadcastShapes, formatShape, isKnown, UNKNOWN, type Dim, type Shape, type TensorInfo } from '../../onnx/shapes.js';
import { need, sumToShape } from './common.js';
import { GradientError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// Gemm
// ---------------------------------------------------------------------------------------------

interface GemmAttrs {
  alpha: number;
  beta: number;
  transA: boolean;
  transB: boolean;
}

function gemmAttrs(node: InferContext['node']): GemmAttrs {
  return {
    alpha: attrFloat(node, 'alpha', 1),
    beta: attrFloat(node, 'beta', 1),
    transA: attrInt(node, 'transA', 0) !== 0,
    transB: attrInt(node, 'transB', 0) !== 0,
  };
}

/** Checks two dims that must agree (when both are known) and returns the better-known one. */
function unify(ctx: InferContext, a: Dim, b: Dim, what: string): Dim {
  if (isKnown(a) && isKnown(b) && a !== b) throw new OnnxShapeError(ctx.node.name, ctx.node.opType, `${what}: ${a} ≠ ${b}`);
  return isKnown(a) ? a : b;
}

function gemmInfer(ctx: InferContext): TensorInfo[] {
  const a = need(ctx, 0);
  const b = need(ctx, 1);
  const { transA, transB } = gemmAttrs(ctx.node);
  for (const [t, label] of [[a, 'A'], [b, 'B']] as const)
    if (t.shape && t.shape.length !== 2) throw new OnnxShapeError(ctx.node.name, ctx.node.opType, `${label} must be 2-D, its shape is ${formatShape(t.shape)}`);
  const m = a.shape ? a.shape[transA ? 1 : 0]! : UNKNOWN;
  const ka = a.shape ? a.shape[transA ? 0 : 1]! : UNKNOWN;
  const kb = b.shape ? b.shape[transB ? 1 : 0]! : UNKNOWN;
  const n = b.shape ? b.shape[transB ? 0 : 1]! : UNKNOWN;
  unify(ctx, ka, kb, 'inner dimensions of op(A) and op(B) differ');
  const c = ctx.input(2);
  if (c?.shape) broadcastShapes([c.shape, [m, n]]); // throws when C cannot broadcast to [M, N]
  return [{ elemType: a.elemType, shape: [m, n] }];
}

// Y = α·op(A)·op(B) + β·C, op(A) = A or Aᵀ ([M,K]), op(B) = B or Bᵀ ([K,N]).
// d op(A) = α·dY·op(B)ᵀ and d op(B) = α·op(A)ᵀ·dY; transposing those when A or B entered transposed:
//   dA = α·dY·Bᵀ   (transA=0, transB=0)   dA = α·B·dYᵀ   (transA=1, transB=0)
//   dA = α·dY·B    (transA=0, transB=1)   dA = α·Bᵀ·dYᵀ  (transA=1, transB=1)
//   dB = α·Aᵀ·dY   (transA=0, transB=0)   dB = α·A·dY    (transA=1, transB=0)
//   dB = α·dYᵀ·A   (transA=0, transB=1)   dB = α·dYᵀ·Aᵀ  (transA=1, transB=1)
// Each is one Gemm with transA/transB flags (no Transpose nodes), alpha carried by the Gemm.
// dC = β·dY summed over the axes C was broadcast along.
function gemmGrad(ctx: GradContext): (string | undefined)[] {
  const { b } = ctx;
  const dy = ctx.dy(0)!;
  const { alpha, beta, transA, transB } = gemmAttrs(ctx.node);
  const A = ctx.x(0);
  const B = ctx.x(1);
  const gemm = (x: string, y: string, tx: boolean, ty: boolean, hint: string): string =>
    b.op('Gemm', [x, y], { alpha: alpha === 1 ? undefined : { float: alpha }, transA: tx ? 1 : undefined, transB: ty ? 1 : undefined }, hint);

  let dA: string | undefined;
  if (ctx.needs(0)) dA = transA ? gemm(B, dy, transB, true, 'gemm_dA') : gemm(dy, B, false, !transB, 'gemm_dA');
  let dB: string | undefined;
  if (ctx.needs(1)) dB = transB ? gemm(dy, A, true, transA, 'gemm_dB') : gemm(A, dy, !transA, false, 'gemm_dB');
  let dC: string | undefined;
  if (ctx.x(2) && ctx.needs(2)) {
    const summed = sumToShape(ctx, dy, ctx.x(2), ctx.info(ctx.y(0)).shape);
    dC = beta === 1 ? summed : b.op('Mul', [summed, b.scalar(beta)], {}, 'gemm_dC');
  }
  return [dA, dB, dC];
}

// ---------------------------------------------------------------------------------------------
// MatMul
// ---------------------------------------------------------------------------------------------

/** Output shape of numpy matmul for known-rank operands (1-D operands promoted, then the added axis dropped). */
function matmulShape(ctx: InferContext, as: Shape, bs: Shape): Shape {
  if (as.length === 0 || bs.length === 0) throw new OnnxShapeError(ctx.node.name, ctx.node.opType, `operands must have rank ≥ 1, got ${formatShape(as)} and ${formatShape(bs)}`);
  const a2 = as.length === 1 ? [1, as[0]!] : as;
  const b2 = bs.length === 1 ? [bs[0]!, 1] : bs;
  unify(ctx, a2[a2.length - 1]!, b2[b2.length - 2]!, `inner dimensions of ${formatShape(as)} and ${formatShape(bs)} differ`);
  let batch: Shape;
  try {
    batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)])!;
  } catch {
    throw new OnnxShapeError(ctx.node.name, ctx.node.opType, `batch dimensions of ${formatShape(as)} and ${formatShape(bs)} do not broadcast`);
  }
  return [...batch, ...(as.length === 1 ? [] : [a2[a2.length - 2]!]), ...(bs.length === 1 ? [] : [b2[b2.length - 1]!])];
}

function matmulInfer(ctx: InferContext): TensorInfo[] {
  const a = need(ctx, 0);
  const b = need(ctx, 1);
  return [{ elemType: a.elemType, shape: a.shape && b.shape ? matmulShape(ctx, a.shape, b.shape) : undefined }];
}

/** Swaps the last two axes of a tensor of known rank. */
function transposeLast2(ctx: GradContext, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return ctx.b.op('Transpose', [x], { perm }, 'matmul_T');
}

// Y = A·B (numpy matmul). A 1-D A is read as a row [1,K] and a 1-D B as a column [K,1]; dY gets
// the same axes back. With A [...,M,K], B [...,K,N], dY [...,M,N] (batch dims broadcast):
//   dA = dY·Bᵀ summed over the batch axes A was broadcast along,
//   dB = Aᵀ·dY summed over the batch axes B was broadcast along,
// then the axis added to a 1-D operand is removed again.
function matmulGrad(ctx: GradContext): (string | undefined)[] {
  const { b, node } = ctx;
  const A = ctx.x(0);
  const B = ctx.x(1);
  const as = ctx.info(A).shape;
  const bs = ctx.info(B).shape;
  if (!as || !bs)
    throw new GradientError(node.opType, node.name, `the ranks of both operands must be known statically, got ${formatShape(as)} for '${A}' and ${formatShape(bs)} for '${B}'`);
  const vecA = as.length === 1;
  const vecB = bs.length === 1;
  const a2 = vecA ? [1, as[0]!] : as;
  const b2 = vecB ? [bs[0]!, 1] : bs;
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)])!;
  const m = a2[a2.length - 2]!;
  const k = a2[a2.length - 1]!;
  const n = b2[b2.length - 1]!;

  // dY with the axes that 1-D operands dropped put back: [...batch, M, N].
  let dy = ctx.dy(0)!;
  const dyRank = batch.length + 2;
  const restore = [...(vecA ? [dyRank - 2] : []), ...(vecB ? [dyRank - 1] : [])];
  if (restore.length > 0) dy = b.op('Unsqueeze', [dy, b.ints(restore)], {}, 'matmul_dY');
  const A2 = vecA ? b.op('Unsqueeze', [A, b.ints([0])], {}, 'matmul_A_row') : A;
  const B2 = vecB ? b.op('Unsqueeze', [B, b.ints([1])], {}, 'matmul_B_col') : B;

  let dA: string | undefined;
  if (ctx.needs(0)) {
    let g = b.op('MatMul', [dy, transposeLast2(ctx, B2, b2.length)], {}, 'matmul_dA'); // [...batch, M, K]
    let gShape: Shape = [...batch, m, k];
    if (vecA) {
      g = b.op('Squeeze', [g, b.ints([gShape.length - 2])]);
      gShape = [...batch, k];
    }
    dA = sumToShape(ctx, g, A, gShape);
  }

  let dB: string | undefined;
  if (ctx.needs(1)) {
    if (!vecB && bs.length === 2 && a2.length > 2 && isKnown(k) && isKnown(n)) {
      // A stack of rows times one weight matrix (a linear layer over [batch, seq, K]): fold every
      // batch axis into the rows, so one Gemm sums over them instead of a batched MatMul + ReduceSum.
      const rowsA = b.op('Reshape', [A2, b.ints([-1, k])], {}, 'matmul_A_rows');
      const rowsDy = b.op('Reshape', [dy, b.ints([-1, n])], {}, 'matmul_dY_rows');
      dB = b.op('Gemm', [rowsA, rowsDy], { transA: 1 }, 'matmul_dB');
    } else {
      let g = b.op('MatMul', [transposeLast2(ctx, A2, a2.length), dy], {}, 'matmul_dB'); // [...batch, K, N]
      let gShape: Shape = [...batch, k, n];
      if (vecB) {
        g = b.op('Squeeze', [g, b.ints([gShape.length - 1])]);
        gShape = [...batch, k];
      }
      dB = sumToShape(ctx, g, B, gShape);
    }
  }
  return [dA, dB];
}

export const linearRules: RuleTable = {
  Gemm: { infer: gemmInfer, grad: gemmGrad },
  MatMul: { infer: matmulInfer, grad: matmulGrad },
};
