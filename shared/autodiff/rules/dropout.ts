/**
 * Shape and gradient rules for Dropout (opset 12+ form: ratio and training_mode are inputs).
 * In training mode the backward pass reuses the forward node's mask output: the mask is random,
 * so it cannot be recomputed. toTrainingMode (training-mode.ts) either gives the node that output
 * ('native') or replaces the node by (X·M)/(1−p) with M a graph input ('mask-input'), which the
 * arithmetic rules differentiate.
 */
import type { RuleTable, InferContext, GradContext } from '../registry.js';
import { DT } from '../../onnx/tensor.js';
import type { TensorInfo } from '../../onnx/shapes.js';
import { need } from './common.js';
import { GradientError } from '../errors.js';

/** ONNX's default when the ratio input is omitted. */
export const DEFAULT_DROPOUT_RATIO = 0.5;

/**
 * 1−p in float32. onnxruntime's Dropout kernel computes kept values as X / (1 − ratio) (checked
 * bit for bit against its output; multiplying by a rounded 1/(1−p) differs in the last bit for
 * about one value in ten), so the gradient and the 'mask-input' rewrite divide by this too.
 */
export function dropoutKeepProbability(ratio: number): number {
  return Math.fround(1 - Math.fround(ratio));
}

/** Y has X's type and shape; the mask is BOOL of the same shape. */
function dropoutInfer(ctx: InferContext): TensorInfo[] {
  const x = need(ctx, 0);
  return [
    { elemType: x.elemType, shape: x.shape },
    { elemType: DT.BOOL, shape: x.shape },
  ];
}

/**
 * Training (training_mode a constant true): Y = X·M/(1−p), M the keep mask ⇒ dX = dY·M/(1−p).
 * Inference (training_mode omitted or a constant false): Y = X ⇒ dX = dY.
 */
function dropoutGrad(ctx: GradContext): (string | undefined)[] {
  const { b, node } = ctx;
  const fail = (msg: string) => new GradientError(node.opType, node.name, msg);
  const dy = ctx.dy(0);
  if (!dy) throw fail('no gradient reaches its output Y');
  const trainingInput = node.input[2];
  if (!trainingInput) return [dy];
  const training = ctx.constant(trainingInput);
  if (!training || training.length !== 1) throw fail(`training_mode ('${trainingInput}') must be a constant scalar; toTrainingMode sets it`);
  if (training[0] === 0) return [dy];
  if (!node.output[1]) throw fail('in training mode its mask output is needed for the gradient; run toTrainingMode (dropout: native), which adds it');
  const ratioInput = node.input[1];
  const ratio = ratioInput ? ctx.constant(ratioInput) : [DEFAULT_DROPOUT_RATIO];
  const keepProbability = ratio ? b.scalar(dropoutKeepProbability(ratio[0]!)) : b.op('Sub', [b.scalar(1), ratioInput!], {}, 'dropout_keep');
  const kept = b.op('Mul', [dy, b.op('Cast', [ctx.y(1)], { to: DT.FLOAT })]);
  return [b.op('Div', [kept, keepProbability])];
}

export const dropoutRules: RuleTable = {
  Dropout: { infer: dropoutInfer, grad: dropoutGrad, nondiff: [1, 2] },
};
