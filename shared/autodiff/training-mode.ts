/**
 * Training-mode and eval-mode rewrites of a forward graph.
 *
 * toTrainingMode runs before the loss is appended and before the backward walk:
 *   Dropout            'native': training_mode becomes a constant true and the node gets its mask
 *                      output (the gradient rule reuses it). 'mask-input': the node becomes
 *                      Y = (X·M)/(1−p) with M a float 0/1 graph input `dropout_mask:<node>`
 *                      that the caller fills from a seed, so training is bit-reproducible.
 *   BatchNormalization is replaced by its training-mode computation in standard ops (batch
 *                      statistics; emitBatchNormTraining in rules/batch-stats.ts), which the
 *                      generic rules differentiate, and new running statistics computed from the
 *                      same batch mean and variance with PyTorch's semantics (below), listed in
 *                      `stateUpdates`. onnxruntime's training-mode BatchNormalization is never
 *                      used: it writes its running-statistics update into the memory of the
 *                      running mean/var it was fed, which a worker reuses for the next batch, and
 *                      the update below would then read already-updated values.
 *   MaxPool            gets its Indices output, so the backward scatter reuses the forward's argmax.
 * toEvalMode turns a graph exported in training mode into inference form.
 *
 * How torch.onnx.export (TorchScript exporter, opsets 13..17) writes these ops:
 *   Dropout, eval export (the default): no node at all — the symbolic returns its input.
 *     Other exporters may leave a Dropout without training_mode (or with it false): inference.
 *   Dropout, training=TrainingMode.TRAINING (opset 12+): Dropout(X, ratio=Constant(float p),
 *     training_mode=Constant(bool true)) with outputs (Y, mask); the mask is not consumed.
 *   BatchNormalization, eval export: opset 13 writes BatchNormalization-9 with one output;
 *     opsets 14..17 write BatchNormalization-15 with training_mode=0 and one output. Both carry
 *     epsilon and momentum = 1 − torch momentum (ONNX's momentum weighs the OLD running value).
 *     (With constant folding on, a BatchNormalization after a Conv may be folded into the Conv.)
 *   BatchNormalization, training export: opset 13 writes BatchNormalization-9 with five outputs
 *     (Y, running_mean, running_var, saved_mean, saved_var), opsets 14..17 BatchNormalization-15
 *     with training_mode=1 and three outputs (Y, running_mean, running_var); the extra outputs are
 *     not consumed.
 *
 * Running statistics, PyTorch semantics, with m_t = 1 − ONNX momentum and n values per channel:
 *   running_mean ← (1−m_t)·running_mean + m_t·mean_batch
 *   running_var  ← (1−m_t)·running_var  + m_t·Σ(X−mean_batch)²/(n−1)   (UNBIASED batch variance)
 * (ONNX's own training-mode outputs use the biased variance.) The running mean/var inputs are read
 * by these two updates only, so the fed buffers are never written.
 */
import { NodeProto, type GraphProto, type TensorProto } from '../proto/gen/onnx.js';
import type { GraphBuilder } from '../onnx/builder.js';
import { attrFloat, attrInt, withAttributes } from '../onnx/attributes.js';
import { DEFAULT_OPSET, valueInfo } from '../onnx/model.js';
import { isKnown, formatShape } from '../onnx/shapes.js';
import { DT, boolTensor } from '../onnx/tensor.js';
import { inferGraph, type GraphFacts } from './infer.js';
import { batchAxes, emitBatchNormTraining, valuesPerChannel } from './rules/batch-stats.js';
import { batchNormUsesBatchStats } from './rules/normalization.js';
import { DEFAULT_DROPOUT_RATIO, dropoutKeepProbability } from './rules/dropout.js';
import { CompileError } from './errors.js';

/** A dropout mask the caller feeds: graph input `input`, shaped like the dropped tensor `of`. */
export interface DropoutMaskInput {
  /** Graph input name, `dropout_mask:<node>`. */
  input: string;
  /** The tensor the mask multiplies (the Dropout's X): the mask has its shape. */
  of: string;
  /** Probability of dropping an element; kept elements are scaled by 1/(1−ratio). */
  ratio: number;
  /** The Dropout node's name (its first output's name when the node has none). */
  node: string;
}

/** A buffer's value after this batch: `output` holds the new value of graph tensor `buffer`. */
export interface StateUpdate {
  buffer: string;
  output: string;
}

export interface TrainingRewrite {
  masks: DropoutMaskInput[];
  stateUpdates: StateUpdate[];
}

export interface TrainingModeOptions {
  dropout: 'mask-input' | 'native';
  /** Opset of the training graph (16 or 17; default 17): picks the ReduceMean form. */
  opset?: number;
}

/** Prefix of the graph inputs that carry dropout masks in 'mask-input' mode. */
export const DROPOUT_MASK_PREFIX = 'dropout_mask:';

/**
 * Rewrites `graph` (in place) for training. New nodes are emitted through `b` (fresh names, shared
 * constants) and also spliced into `graph` right after the node they serve, with the
 * initializers they read, so the graph is complete on return; a caller that later appends b's
 * nodes to the graph must do so by identity (graph-append.ts does).
 */
export function toTrainingMode(graph: GraphProto, b: GraphBuilder, opts: TrainingModeOptions): TrainingRewrite {
  if (opts.dropout !== 'mask-input' && opts.dropout !== 'native') throw new CompileError(`dropout must be 'mask-input' or 'native', got '${opts.dropout as string}'`);
  const opset = opts.opset ?? DEFAULT_OPSET;
  const taken = namesIn(graph);
  for (const name of taken) b.reserve(name);
  const facts = inferGraph(graph, opset);
  const referenced = referencedNames(graph);
  const rewrite: TrainingRewrite = { masks: [], stateUpdates: [] };
  const ctx: RewriteContext = { graph, b, opset, facts, referenced, taken, rewrite, dropout: opts.dropout };

  const orphaned: string[] = [];
  for (const node of [...graph.node]) {
    if (node.domain !== '' && node.domain !== 'ai.onnx') continue;
    const firstNew = b.nodes.length;
    let replaced = false;
    switch (node.opType) {
      case 'Dropout':
        replaced = dropoutToTraining(ctx, node);
        if (replaced) orphaned.push(...node.input.slice(1));
        break;
      case 'BatchNormalization':
        batchNormToTraining(ctx, node);
        replaced = true;
        break;
      case 'MaxPool':
        maxPoolWithIndices(ctx, node);
        break;
    }
    const added = b.nodes.slice(firstNew);
    const at = graph.node.indexOf(node);
    graph.node.splice(replaced ? at : at + 1, replaced ? 1 : 0, ...added);
  }
  addReadInitializers(graph, b);
  dropUnreadSources(graph, orphaned);
  return rewrite;
}

interface RewriteContext {
  graph: GraphProto;
  b: GraphBuilder;
  opset: number;
  facts: GraphFacts;
  /** Tensors read by some node or listed as graph outputs. */
  referenced: Set<string>;
  taken: Set<string>;
  rewrite: TrainingRewrite;
  dropout: TrainingModeOptions['dropout'];
  /** The shared constant `true` for native dropout, created on first use. */
  trueConstant?: string;
}

/** The ratio of a Dropout: its constant value, DEFAULT_DROPOUT_RATIO when omitted, undefined when computed. */
function dropoutRatio(ctx: RewriteContext, node: NodeProto): number | undefined {
  const name = node.input[1];
  if (!name) return DEFAULT_DROPOUT_RATIO;
  const values = ctx.facts.constants.get(name);
  if (!values) return undefined;
  const p = values[0]!;
  if (values.length !== 1 || !(p >= 0 && p < 1)) throw new CompileError(`Dropout node '${nodeLabel(node)}': ratio '${name}' must be a scalar in [0, 1), got [${values.slice(0, 4).join(', ')}]`);
  return p;
}

/** Returns true when the node was replaced by the nodes emitted since. */
function dropoutToTraining(ctx: RewriteContext, node: NodeProto): boolean {
  const { b } = ctx;
  const [x, ratioName] = [node.input[0]!, node.input[1] ?? ''];
  const y = node.output[0]!;
  const ratio = dropoutRatio(ctx, node);

  if (ctx.dropout === 'native') {
    ctx.trueConstant ??= b.initializer(boolTensor(b.fresh('dropout_training_mode'), [], [true]));
    node.input = [x, ratioName, ctx.trueConstant];
    if (!node.output[1]) node.output = [y, b.fresh(`${y}_mask`)];
    return false;
  }

  const label = nodeLabel(node);
  if (ratio === undefined) throw new CompileError(`Dropout node '${label}': dropout 'mask-input' needs a constant ratio, but '${ratioName}' is computed in the graph; compile with dropout: 'native' instead`);
  const xInfo = ctx.facts.info.get(x);
  if (xInfo?.elemType !== DT.FLOAT) throw new CompileError(`Dropout node '${label}': dropout 'mask-input' multiplies by a float32 mask, but X ('${x}') is ${DT[xInfo?.elemType ?? 0] ?? 'of unknown type'}; compile with dropout: 'native' instead`);
  const mask = DROPOUT_MASK_PREFIX + label;
  if (ctx.taken.has(mask)) throw new CompileError(`Dropout node '${label}': the mask input name '${mask}' is already used in the graph`);
  ctx.taken.add(b.reserve(mask));
  ctx.graph.input.push(valueInfo(mask, DT.FLOAT, xInfo.shape));
  // (X·M)/(1−p): bit-identical to what the native kernel computes for the same mask.
  const kept = b.op('Mul', [x, mask], {}, 'dropout_kept');
  b.add('Div', [kept, b.scalar(dropoutKeepProbability(ratio))], {}, [y]);
  const maskOut = node.output[1];
  if (maskOut && ctx.referenced.has(maskOut)) b.add('Cast', [mask], { to: DT.BOOL }, [maskOut]);
  ctx.rewrite.masks.push({ input: mask, of: x, ratio, node: label });
  return true;
}

/** Emits the node's training-mode replacement (Y under the node's own output name) and its running-statistics updates. */
function batchNormToTraining(ctx: RewriteContext, node: NodeProto): void {
  const { b, opset } = ctx;
  const label = nodeLabel(node);
  const [x, scale, bias, mean, variance] = node.input;
  if (!x || !scale || !bias || !mean || !variance) throw new CompileError(`BatchNormalization node '${label}' lacks one of its inputs X, scale, B, running mean, running var`);
  const xShape = ctx.facts.info.get(x)?.shape;
  if (!xShape || xShape.length < 2) throw new CompileError(`BatchNormalization node '${label}': X ('${x}') must be [N, C, spatial...] of known rank, got ${formatShape(xShape)}`);
  for (const buffer of [mean, variance])
    if (ctx.rewrite.stateUpdates.some((u) => u.buffer === buffer)) throw new CompileError(`BatchNormalization node '${label}': running statistic '${buffer}' is shared with another BatchNormalization; each needs its own`);
  const oldOutputs = node.output.slice(1);
  oldOutputs.forEach((o, k) => {
    if (k >= 2 && o && ctx.referenced.has(o)) throw new CompileError(`BatchNormalization node '${label}': its saved batch statistic output '${o}' is used by the graph; gradfleet recomputes batch statistics and cannot provide it`);
  });
  const averaged = batchAxes(xShape.length).map((a) => xShape[a]!);
  const count = averaged.every(isKnown) ? averaged.reduce((p, d) => p * d, 1) : undefined;
  if (count !== undefined && count < 2) throw new CompileError(`BatchNormalization node '${label}': training needs more than one value per channel, X is ${formatShape(xShape)}`);

  const batch = emitBatchNormTraining(b, opset, { x, rank: xShape.length, scale, bias, epsilon: attrFloat(node, 'epsilon', 1e-5), y: node.output[0]! });
  // PyTorch's running variance takes the unbiased batch variance: σ²·m/(m−1), m values per channel.
  let correction: string;
  if (count !== undefined) correction = b.scalar(count / (count - 1));
  else {
    const m = valuesPerChannel(b, x, xShape, mean);
    correction = b.op('Div', [m, b.op('Sub', [m, b.scalar(1)])]);
  }
  const unbiasedVar = b.op('Mul', [batch.variance, correction], {}, 'bn_batch_var_unbiased');

  const keepOld = attrFloat(node, 'momentum', 0.9);
  const keepOldC = b.scalar(keepOld);
  const takeNewC = b.scalar(Math.fround(1 - keepOld));
  const blend = (running: string, fromBatch: string, hint: string) => b.op('Add', [b.op('Mul', [running, keepOldC]), b.op('Mul', [fromBatch, takeNewC])], {}, hint);
  const newMean = blend(mean, batch.mean, 'bn_running_mean_next');
  const newVar = blend(variance, unbiasedVar, 'bn_running_var_next');
  ctx.rewrite.stateUpdates.push({ buffer: mean, output: newMean }, { buffer: variance, output: newVar });
  // Consumers of the exported running-statistics outputs (torch leaves them unread) get ours.
  if (oldOutputs[0] && ctx.referenced.has(oldOutputs[0])) b.add('Identity', [newMean], {}, [oldOutputs[0]]);
  if (oldOutputs[1] && ctx.referenced.has(oldOutputs[1])) b.add('Identity', [newVar], {}, [oldOutputs[1]]);
}

function maxPoolWithIndices(ctx: RewriteContext, node: NodeProto): void {
  if (node.output[1] || attrInt(node, 'storage_order', 0) !== 0) return;
  node.output = [node.output[0]!, ctx.b.fresh(`${node.output[0]}_argmax`)];
}

/**
 * Rewrites `graph` (in place) for inference: Dropout becomes Identity (or, when something reads
 * its mask, a Dropout with training_mode false, whose mask is all true); BatchNormalization drops
 * training_mode and its extra outputs, so it normalises with the running statistics. Readers of
 * the running-statistics outputs get the running statistics themselves (unchanged in eval).
 * Valid for BatchNormalization-9 (opset 13) and -15 alike. Idempotent; BatchNormalization nodes
 * already in inference form are left as they are.
 */
export function toEvalMode(graph: GraphProto): void {
  const taken = namesIn(graph);
  const referenced = referencedNames(graph);
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  let falseConstant: string | undefined;
  const orphaned: string[] = [];
  for (const node of [...graph.node]) {
    if (node.domain !== '' && node.domain !== 'ai.onnx') continue;
    if (node.opType === 'Dropout') {
      const mask = node.output[1];
      if (mask && referenced.has(mask)) {
        if (!falseConstant) {
          falseConstant = fresh('dropout_eval_mode');
          graph.initializer.push(boolTensor(falseConstant, [], [false]));
        }
        node.input = [node.input[0]!, node.input[1] ?? '', falseConstant];
      } else {
        orphaned.push(...node.input.slice(1));
        node.opType = 'Identity';
        node.input = [node.input[0]!];
        node.output = [node.output[0]!];
        node.attribute = [];
      }
    } else if (node.opType === 'BatchNormalization') {
      if (!batchNormUsesBatchStats(node) && node.output.length <= 1) continue; // already inference form
      const label = nodeLabel(node);
      const extra = node.output.slice(1);
      const added: NodeProto[] = [];
      extra.forEach((o, k) => {
        if (!o || !referenced.has(o)) return;
        if (k >= 2) throw new CompileError(`BatchNormalization node '${label}': its saved batch statistic output '${o}' is used by the graph and has no eval-mode value`);
        added.push(NodeProto.fromPartial({ name: fresh(`${label}_eval_stat${k}`), opType: 'Identity', domain: '', input: [node.input[3 + k]!], output: [o] }));
      });
      node.output = [node.output[0]!];
      node.attribute = withAttributes(node, { training_mode: undefined });
      graph.node.splice(graph.node.indexOf(node) + 1, 0, ...added);
    }
  }
  dropUnreadSources(graph, orphaned);
}

function nodeLabel(node: NodeProto): string {
  return node.name || node.output[0] || node.opType;
}

/** Every tensor name the graph declares or produces. */
function namesIn(graph: GraphProto): Set<string> {
  const names = new Set<string>();
  for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) names.add(v.name);
  for (const t of graph.initializer) names.add(t.name);
  for (const n of graph.node) for (const o of [...n.input, ...n.output]) if (o) names.add(o);
  return names;
}

function referencedNames(graph: GraphProto): Set<string> {
  const names = new Set<string>(graph.output.map((o) => o.name));
  for (const n of graph.node) for (const i of n.input) if (i) names.add(i);
  return names;
}

/**
 * Removes the initializers and Constant nodes behind `names` (a replaced Dropout's ratio and
 * training_mode) once nothing reads them, so runtimes do not warn about unused initializers.
 */
function dropUnreadSources(graph: GraphProto, names: readonly string[]): void {
  const read = referencedNames(graph);
  const unread = new Set(names.filter((n) => n && !read.has(n)));
  if (unread.size === 0) return;
  graph.initializer = graph.initializer.filter((t) => !unread.has(t.name));
  graph.node = graph.node.filter((n) => !(n.opType === 'Constant' && n.output.length === 1 && unread.has(n.output[0]!)));
}

/** Adds to the graph the builder's initializers that its nodes read and it lacks (shared constants). */
function addReadInitializers(graph: GraphProto, b: GraphBuilder): void {
  const present = new Set(graph.initializer.map((t) => t.name));
  const read = new Set(graph.node.flatMap((n) => n.input));
  const missing: TensorProto[] = b.initializers.filter((t) => read.has(t.name) && !present.has(t.name));
  graph.initializer.push(...missing);
}
