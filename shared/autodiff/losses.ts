/**
 * Loss functions emitted as ONNX nodes on top of a forward graph. They are ordinary graph nodes:
 * the backward walk differentiates them with the same rules as the model, so a loss needs no
 * gradient code of its own.
 *
 * Each loss returns the scalar loss under the requested reduction and a `normalizer`: the scalar
 * that turns the summed loss into PyTorch's 'mean' (label count, element count, or the weight sum
 * of the labels for class-weighted cross-entropy). With reduction 'sum', a caller that adds the
 * sums and the normalizers of several micro-batches recovers the exact mean over all of them.
 */
import type { GraphBuilder } from '../onnx/builder.js';
import { DT } from '../onnx/tensor.js';
import { formatShape, type Shape } from '../onnx/shapes.js';
import type { HeadSpec } from './compile-types.js';
import { CompileError } from './errors.js';

export type Reduction = 'mean' | 'sum';

export interface EmittedLoss {
  /** Scalar loss: the batch mean (PyTorch semantics) or the sum, as requested. */
  loss: string;
  /** Scalar that the summed loss divides by to give the mean. */
  normalizer: string;
}

/** What a loss needs to know about the logits it reads. */
export interface LogitsInfo {
  name: string;
  elemType: number;
  shape: Shape | undefined;
}

/** Element type and shape of the labels input a head needs (batch dims stay symbolic). */
export function labelSpec(head: HeadSpec, logits: LogitsInfo): { elemType: number; shape: Shape } {
  const shape = requireRank(head, logits, head.loss === 'cross-entropy' ? 2 : 1);
  if (head.loss === 'cross-entropy') return { elemType: DT.INT64, shape: shape.filter((_, i) => i !== 1) };
  return { elemType: DT.FLOAT, shape: [...shape] };
}

/** Emits `head`'s loss on `logits` against the graph tensor `labels`. */
export function emitLoss(b: GraphBuilder, head: HeadSpec, logits: LogitsInfo, labels: string, reduction: Reduction): EmittedLoss {
  if (logits.elemType !== DT.FLOAT) throw new CompileError(`head '${head.name}': logits '${logits.name}' must be float32, got data type ${DT[logits.elemType] ?? logits.elemType}`);
  if (head.loss !== 'cross-entropy' && (head.labelSmoothing !== undefined || head.classWeights !== undefined))
    throw new CompileError(`head '${head.name}': labelSmoothing and classWeights apply to cross-entropy only, not ${head.loss}`);
  switch (head.loss) {
    case 'cross-entropy':
      return crossEntropy(b, head, logits, labels, reduction);
    case 'mse':
      return meanSquaredError(b, head, logits, labels, reduction);
    case 'bce':
      return binaryCrossEntropyWithLogits(b, head, logits, labels, reduction);
    default:
      throw new CompileError(`head '${head.name}': unknown loss '${(head as { loss: string }).loss}' (expected cross-entropy, mse or bce)`);
  }
}

/**
 * Softmax cross-entropy on integer class labels along axis 1 (logits [N, C, d1...], labels
 * [N, d1...]), as torch.nn.CrossEntropyLoss(weight=w, label_smoothing=ε):
 *
 *   logp = log_softmax(x),  q_ic = w_c·((1−ε)·[c = y_i] + ε/C)
 *   l_i  = −Σ_c q_ic·logp_ic
 *   mean = Σ_i l_i / Σ_i w_{y_i}   (Σ_i 1 without weights),   sum = Σ_i l_i
 *
 * The target q is a constant of the labels, so the gradient is dlogits = (softmax·Σ_c q − q)/norm.
 */
function crossEntropy(b: GraphBuilder, head: HeadSpec, logits: LogitsInfo, labels: string, reduction: Reduction): EmittedLoss {
  const shape = requireRank(head, logits, 2);
  const classes = shape[1];
  if (typeof classes !== 'number') throw new CompileError(`head '${head.name}': the class axis (axis 1) of logits '${logits.name}' ${formatShape(shape)} must have a fixed size`);
  const eps = head.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new CompileError(`head '${head.name}': labelSmoothing must be in [0, 1], got ${head.labelSmoothing}`);
  const w = head.classWeights;
  if (w) {
    if (w.length !== classes) throw new CompileError(`head '${head.name}': classWeights has ${w.length} entries, the logits have ${classes} classes`);
    const bad = w.findIndex((v) => !(Number.isFinite(v) && v >= 0));
    if (bad >= 0) throw new CompileError(`head '${head.name}': classWeights[${bad}] must be a finite number >= 0, got ${w[bad]}`);
  }
  const rank = shape.length;
  // Per-class constants laid out along axis 1 so that they broadcast over [N, C, d1...].
  const perClass = (values: number[]): string => b.floats(values, [classes, ...Array<number>(rank - 2).fill(1)]);

  const logp = b.op('LogSoftmax', [logits.name], { axis: 1 }, `logp_${safe(head.name)}`);
  const onehot = oneHot(b, labels, classes, rank);
  // −q, built from the labels only: no gradient flows into it.
  const weights = w ?? Array<number>(classes).fill(1);
  let negQ = b.op('Mul', [onehot, w ? perClass(weights.map((v) => -(1 - eps) * v)) : b.scalar(-(1 - eps))]);
  if (eps > 0) negQ = b.op('Add', [negQ, w ? perClass(weights.map((v) => (-eps / classes) * v)) : b.scalar(-eps / classes)]);
  const total = b.op('ReduceSum', [b.op('Mul', [logp, negQ])], { keepdims: 0 }, `ce_sum_${safe(head.name)}`);

  // Σ_i w_{y_i}: the one-hot rows pick each label's weight (1 each without weights).
  const normalizer = b.op('ReduceSum', [w ? b.op('Mul', [onehot, perClass(weights)]) : onehot], { keepdims: 0 }, `ce_norm_${safe(head.name)}`);
  return { loss: reduce(b, total, normalizer, reduction, head), normalizer };
}

/** Mean squared error over all elements: mean = Σ (x − y)² / numel, as torch.nn.MSELoss. */
function meanSquaredError(b: GraphBuilder, head: HeadSpec, logits: LogitsInfo, labels: string, reduction: Reduction): EmittedLoss {
  requireRank(head, logits, 1);
  const d = b.op('Sub', [logits.name, labels]);
  const total = b.op('ReduceSum', [b.op('Mul', [d, d])], { keepdims: 0 }, `mse_sum_${safe(head.name)}`);
  const normalizer = elementCount(b, logits.name, `mse_norm_${safe(head.name)}`);
  return { loss: reduce(b, total, normalizer, reduction, head), normalizer };
}

/**
 * Binary cross-entropy on logits, as torch.nn.BCEWithLogitsLoss, in the stable form
 *   ℓ = max(x, 0) − x·y + log(1 + e^(−|x|)),  written with max(x, 0) = (x + |x|)/2:
 *   ℓ = x·(½ − y) + ½|x| + log(1 + e^(−|x|)).
 * The rewrite matters at x = 0 (zero-initialised heads): whatever subgradient s the Abs rule picks
 * there, dℓ/dx = ½ − y + ½s − s·½ = ½ − y = σ(0) − y, the true derivative. With a Relu for
 * max(x, 0), a Relu'(0) = 0 would give −y instead.
 */
function binaryCrossEntropyWithLogits(b: GraphBuilder, head: HeadSpec, logits: LogitsInfo, labels: string, reduction: Reduction): EmittedLoss {
  requireRank(head, logits, 1);
  const x = logits.name;
  const abs = b.op('Abs', [x]);
  const linear = b.op('Mul', [x, b.op('Sub', [b.scalar(0.5), labels])]);
  const halfAbs = b.op('Mul', [abs, b.scalar(0.5)]);
  const softTail = b.op('Log', [b.op('Add', [b.op('Exp', [b.op('Neg', [abs])]), b.scalar(1)])]);
  const elementwise = b.op('Add', [b.op('Add', [linear, halfAbs]), softTail]);
  const total = b.op('ReduceSum', [elementwise], { keepdims: 0 }, `bce_sum_${safe(head.name)}`);
  const normalizer = elementCount(b, x, `bce_norm_${safe(head.name)}`);
  return { loss: reduce(b, total, normalizer, reduction, head), normalizer };
}

/**
 * Emits the `correct` count of a cross-entropy head: Σ [argmax_c logits = label], as a float32
 * scalar (exact up to 2^24 per batch). Its nodes lie off the loss path, so no gradient rule ever
 * sees them.
 */
export function emitCorrectCount(b: GraphBuilder, logits: string, labels: string, output?: string): string {
  const predicted = b.op('ArgMax', [logits], { axis: 1, keepdims: 0 });
  const hits = b.op('Cast', [b.op('Equal', [predicted, labels])], { to: DT.FLOAT });
  return b.add('ReduceSum', [hits], { keepdims: 0 }, output ? [output] : 1, 'correct')[0]!;
}

/**
 * 0/1 float [N, C, d1...] with a 1 at each label's class: labels unsqueezed at axis 1 compared
 * with the class indices 0..C−1.
 */
function oneHot(b: GraphBuilder, labels: string, classes: number, rank: number): string {
  const classIds = b.ints(
    Array.from({ length: classes }, (_, c) => c),
    [1, classes, ...Array<number>(rank - 2).fill(1)],
  );
  const column = b.op('Unsqueeze', [labels, b.ints([1])]);
  return b.op('Cast', [b.op('Equal', [column, classIds])], { to: DT.FLOAT }, 'onehot');
}

/** Number of elements of `x` as a float scalar (runtime, since the batch size is symbolic). */
function elementCount(b: GraphBuilder, x: string, hint: string): string {
  return b.op('Cast', [b.op('Size', [x])], { to: DT.FLOAT }, hint);
}

function reduce(b: GraphBuilder, total: string, normalizer: string, reduction: Reduction, head: HeadSpec): string {
  if (reduction === 'sum') return total;
  if (reduction === 'mean') return b.op('Div', [total, normalizer], {}, `loss_mean_${safe(head.name)}`);
  throw new CompileError(`reduction must be 'mean' or 'sum', got '${reduction as string}'`);
}

function requireRank(head: HeadSpec, logits: LogitsInfo, min: number): Shape {
  const shape = logits.shape;
  if (!shape) throw new CompileError(`head '${head.name}': the rank of logits '${logits.name}' is unknown; ${head.loss} needs it`);
  if (shape.length < min) throw new CompileError(`head '${head.name}': ${head.loss} needs logits of rank >= ${min}, '${logits.name}' is ${formatShape(shape)}`);
  return shape;
}

/** A name fragment safe to embed in node names. */
function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}
