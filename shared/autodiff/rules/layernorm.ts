/**
 * Shape and gradient rules for LayerNormalization (opset 17): X is normalised over the axes
 * A = axis, axis+1, …, rank−1 (axis defaults to −1), then scaled by γ and shifted by the
 * optional β, both broadcasting against X's trailing dims. The optional outputs Mean and
 * InvStdDev have X's shape with the axes of A set to 1.
 */
import type { RuleTable, InferContext, GradContext } from '../registry.js';
import { attrFloat, attrInt } from '../../onnx/attributes.js';
import { isKnown, normAxis, type TensorInfo } from '../../onnx/shapes.js';
import { DT, float32Tensor } from '../../onnx/tensor.js';
import { need, sumToShape } from './common.js';
import { reduceOver } from './batch-stats.js';
import { GradientError } from '../errors.js';

function layerNormInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  need(ctx, 1);
  // Mean and InvStdDev are computed in stash_type (float unless the node says otherwise).
  const statsType = attrInt(ctx.node, 'stash_type', DT.FLOAT);
  if (!x.shape) return [{ elemType: x.elemType, shape: undefined }, { elemType: statsType, shape: undefined }, { elemType: statsType, shape: undefined }];
  const axis = normAxis(attrInt(ctx.node, 'axis', -1), x.shape.length);
  const stats = { elemType: statsType, shape: x.shape.map((d, i) => (i < axis ? d : 1)) };
  return [{ elemType: x.elemType, shape: x.shape }, stats, { ...stats }];
}

// A = axis…r−1, D = |A| values per group:
//   μ = mean_A X,  σ² = mean_A (X−μ)²,  r = 1/√(σ²+ε),  x̂ = (X−μ)·r,  Y = γ·x̂ + β
// ⇒ dβ = Σ dY,  dγ = Σ dY·x̂  (summed over the axes γ and β broadcast along),
//   g = dY·γ,  dX = r·(g − mean_A g − x̂·mean_A(g·x̂))
// (the two mean terms are the dependence of μ and σ² on X). When the loss also reads the Mean
// and InvStdDev outputs (dμ, dr): ∂μ/∂X = 1/D and ∂r/∂X = −r³·(X−μ)/D = −r²·x̂/D, so
//   dX += dμ/D − dr·r²·x̂/D.
// μ and r come from the forward node's Mean and InvStdDev outputs when it has them, else they are
// recomputed.
function layerNormGrad(ctx: GradContext): (string | undefined)[] {
  const { b, node, opset } = ctx;
  const x = ctx.x(0);
  const gamma = ctx.x(1);
  const xs = ctx.info(x).shape;
  if (!xs) throw new GradientError(node.opType, node.name, `the rank of X ('${x}') must be known`);
  const rank = xs.length;
  const axis = normAxis(attrInt(node, 'axis', -1), rank);
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const [dy, dMean, dInvStd] = [ctx.dy(0), ctx.dy(1), ctx.dy(2)];

  const mean = node.output[1] ? ctx.y(1) : reduceOver(b, opset, 'ReduceMean', x, axes, 1);
  const centered = b.op('Sub', [x, mean]);
  const invStd = node.output[2]
    ? ctx.y(2)
    : b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [reduceOver(b, opset, 'ReduceMean', b.op('Mul', [centered, centered]), axes, 1), b.scalar(attrFloat(node, 'epsilon', 1e-5))])])], {}, 'ln_inv_std');
  const xhat = b.op('Mul', [centered, invStd], {}, 'ln_xhat');
  const yShape = ctx.info(ctx.y(0)).shape;

  let dx: string | undefined;
  if (ctx.needs(0)) {
    const terms: string[] = [];
    if (dy) {
      const g = b.op('Mul', [dy, gamma]);
      const meanG = reduceOver(b, opset, 'ReduceMean', g, axes, 1);
      const meanGXhat = reduceOver(b, opset, 'ReduceMean', b.op('Mul', [g, xhat]), axes, 1);
      terms.push(b.op('Mul', [invStd, b.op('Sub', [b.op('Sub', [g, meanG]), b.op('Mul', [xhat, meanGXhat])])]));
    }
    if (dMean || dInvStd) {
      const groupSize = normalisedCount(ctx, x, axes, mean);
      let statsTerm = dMean ? b.op('Expand', [dMean, b.op('Shape', [x])]) : undefined;
      if (dInvStd) {
        const fromInvStd = b.op('Neg', [b.op('Mul', [b.op('Mul', [dInvStd, b.op('Mul', [invStd, invStd])]), xhat])]);
        statsTerm = statsTerm ? b.op('Add', [statsTerm, fromInvStd]) : fromInvStd;
      }
      terms.push(b.op('Div', [statsTerm!, groupSize]));
    }
    dx = terms.length === 1 ? terms[0] : b.op('Add', terms);
  }
  // Y alone depends on γ and β: without dY their gradients are zero.
  const paramGrad = (i: 1 | 2, fromDy: (d: string) => string): string | undefined => {
    if (!node.input[i] || !ctx.needs(i)) return undefined;
    if (!dy) return b.op('ConstantOfShape', [b.op('Shape', [ctx.x(i)])], { value: float32Tensor('zero', [1], [0]) });
    return sumToShape(ctx, fromDy(dy), ctx.x(i), yShape);
  };
  const dgamma = paramGrad(1, (d) => b.op('Mul', [d, xhat]));
  const dbeta = paramGrad(2, (d) => d);
  return [dx, dgamma, dbeta];
}

/** D, the values each group normalises over, as a float scalar (a constant when the dims are static). */
function normalisedCount(ctx: GradContext, x: string, axes: readonly number[], perGroup: string): string {
  const dims = axes.map((a) => ctx.info(x).shape![a]!);
  if (dims.every(isKnown)) return ctx.b.scalar(dims.reduce((p, d) => p * d, 1));
  const size = (t: string) => ctx.b.op('Cast', [ctx.b.op('Size', [t])], { to: DT.FLOAT });
  return ctx.b.op('Div', [size(x), size(perGroup)], {}, 'ln_group_size');
}

export const layerNormRules: RuleTable = {
  LayerNormalization: { infer: layerNormInfer, grad: layerNormGrad },
};
