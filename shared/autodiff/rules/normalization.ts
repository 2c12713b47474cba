/**
 * Shape and gradient rules for BatchNormalization. The gradient rule covers inference mode
 * (fixed running statistics: an affine map per channel). Training mode (batch statistics) never
 * reaches it: toTrainingMode (training-mode.ts) replaces such a node by standard ops
 * (emitBatchNormTraining) that the generic rules differentiate, because onnxruntime's
 * training-mode kernel writes its running-statistics update into the running mean/var it is fed.
 * The running mean and var inputs are buffers: no gradient flows into them (`nondiff`).
 */
import type { RuleTable, InferContext, GradContext } from '../registry.js';
import type { NodeProto } from '../../proto/gen/onnx.js';
import { attrFloat, attrInt, hasAttr } from '../../onnx/attributes.js';
import type { TensorInfo } from '../../onnx/shapes.js';
import { need } from './common.js';
import { batchAxes, perChannelView, reduceOver } from './batch-stats.js';
import { GradientError } from '../errors.js';

/**
 * Whether the node normalises with batch statistics: training_mode=1 (BatchNormalization-14/15),
 * or, without that attribute, more than one output (BatchNormalization-9, opsets ≤ 13, where the
 * extra outputs are what marks training).
 */
export function batchNormUsesBatchStats(node: NodeProto): boolean {
  if (hasAttr(node, 'training_mode')) return attrInt(node, 'training_mode', 0) === 1;
  return node.output.filter((o) => o !== '').length > 1;
}

/** Y has X's shape; the optional statistics outputs have the [C] shape of the running mean. */
function batchNormInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  const stats = ctx.input(3) ?? need(ctx, 1);
  const perChannel: TensorInfo = { elemType: stats.elemType, shape: stats.shape };
  return [{ elemType: x.elemType, shape: x.shape }, perChannel, perChannel, perChannel, perChannel];
}

function batchNormGrad(ctx: GradContext): (string | undefined)[] {
  const { node } = ctx;
  if (batchNormUsesBatchStats(node))
    throw new GradientError(
      node.opType,
      node.name,
      'it normalises with batch statistics (training mode); compile the graph with toTrainingMode (compileTraining does), which writes it out in standard ops and updates the running statistics without onnxruntime writing into the fed buffers',
    );
  if (!ctx.dy(0)) throw new GradientError(node.opType, node.name, 'the loss depends only on its running-statistics outputs, which are buffers and are not differentiated');
  const rank = ctx.info(ctx.x(0)).shape?.length;
  if (rank === undefined || rank < 2) throw new GradientError(node.opType, node.name, `X must be [N, C, spatial...] of known rank, got rank ${rank ?? 'unknown'}`);
  return inferenceGrad(ctx, rank);
}

/**
 * Inference mode, running statistics μ, v fixed:
 *   Y = γ·(X−μ)/√(v+ε) + β
 * ⇒ dX = dY·γ/√(v+ε),  dγ = Σ_A dY·(X−μ)/√(v+ε),  dβ = Σ_A dY.
 */
function inferenceGrad(ctx: GradContext, rank: number): (string | undefined)[] {
  const { b, opset, node } = ctx;
  const x = ctx.x(0);
  const dy = ctx.dy(0)!;
  const axes = batchAxes(rank);
  const invStd = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [ctx.x(4), b.scalar(attrFloat(node, 'epsilon', 1e-5))])])], {}, 'bn_inv_std');
  const dx = ctx.needs(0) ? b.op('Mul', [dy, perChannelView(b, b.op('Mul', [ctx.x(1), invStd]), rank)]) : undefined;
  let dgamma: string | undefined;
  if (ctx.needs(1)) {
    const xhat = b.op('Mul', [b.op('Sub', [x, perChannelView(b, ctx.x(3), rank)]), perChannelView(b, invStd, rank)], {}, 'bn_xhat');
    dgamma = reduceOver(b, opset, 'ReduceSum', b.op('Mul', [dy, xhat]), axes, 0);
  }
  const dbeta = ctx.needs(2) ? reduceOver(b, opset, 'ReduceSum', dy, axes, 0) : undefined;
  return [dx, dgamma, dbeta];
}

export const normalizationRules: RuleTable = {
  BatchNormalization: { infer: batchNormInfer, grad: batchNormGrad, nondiff: [3, 4] },
};
