/**
 * The attack-graph compiler: what adversarial examples are computed against. The forward model
 * in inference mode (dropout off, batch norm on running statistics: the model compileEval
 * scores), the heads' losses summed over the batch, `correct` for a classification head, and
 * grad:<input>, the gradient of the summed loss with respect to the (single, float) data input.
 *
 *   forward ─► checks ─► eval mode ─► params/buffers become inputs ─► losses (sum)
 *           ─► backward walk from the loss to the data input only ─► loss, correct, grad:<input>
 *
 * The backward walk starts from the data input alone, so no parameter gradient is computed; an
 * inference-mode BatchNormalization passes dY·γ/√(v+ε) back to X (rules/normalization.ts).
 * Params and buffers are graph inputs under the eval graph's names (same `freeze`, same
 * classification of initializers), so the weight arrays that feed the eval graph feed this one.
 */
import type { ModelProto } from '../proto/gen/onnx.js';
import { GraphBuilder } from '../onnx/builder.js';
import { valueInfo } from '../onnx/model.js';
import { DT } from '../onnx/tensor.js';
import { inferGraph, topoSort } from './infer.js';
import { backward } from './backward.js';
import { toEvalMode } from './training-mode.js';
import { checkForwardModel, classifyInitializers, cloneModel, initializersToInputs, normaliseConstants, normaliseInputs, takenNames } from './forward-model.js';
import { checkNoClash, declareLabels, emitCorrect, emitHeads, reservedNames, resolveHeads, scalarOutput } from './heads.js';
import { appendNew } from './graph-append.js';
import { gradName, MIN_TRAINING_OPSET, withOpset } from './compile.js';
import type { HeadSpec, TensorSpec } from './compile-types.js';
import { CompileError } from './errors.js';
import './rules/index.js';

export interface AttackGraph {
  model: ModelProto;
  /** The one data input (float), batch dimension symbolic. */
  inputs: TensorSpec[];
  labels: TensorSpec[];
  /** Trainable parameters, graph inputs in the eval graph's order (EvalGraph.params). */
  params: string[];
  /** Batch-norm running statistics, graph inputs in the eval graph's order (EvalGraph.buffers). */
  buffers: string[];
  /**
   * `loss`: the heads' weighted loss SUMMED over the batch; `correct`: argmax == label count of
   * the first cross-entropy head (absent without one); `inputGrad`: d(loss)/d(input), `grad:<input>`.
   */
  outputs: { loss: string; correct?: string; inputGrad: string };
}

export interface AttackCompileOptions {
  heads: HeadSpec[];
  /** As for compileEval: initializers matching stay initializers (not inputs). */
  freeze?: RegExp;
}

/**
 * Compiles `forward` into an attack graph. Throws UnsupportedOpError for an op without a gradient
 * rule on the path from the input to the loss, and CompileError for a model whose data input is
 * not a single float tensor.
 */
export function compileAttack(forward: ModelProto, options: AttackCompileOptions): AttackGraph {
  const opset = Math.max(checkForwardModel(forward), MIN_TRAINING_OPSET);
  const model = cloneModel(forward);
  const graph = model.graph!;
  normaliseConstants(graph);
  const declaredInputs = normaliseInputs(graph);
  const { params, buffers } = classifyInitializers(graph, options.freeze);
  toEvalMode(graph);
  const facts0 = inferGraph(graph, opset);
  const heads = resolveHeads(graph, facts0, options.heads);
  const labelNames = new Set(heads.map((h) => h.labels.name));
  const inputs = declaredInputs.filter((i) => !labelNames.has(i.name));
  if (inputs.length !== 1) throw new CompileError(`an attack perturbs one data input; the model has ${inputs.length} (${inputs.map((i) => i.name).join(', ') || 'none'})`);
  const input = inputs[0]!;
  if (input.elemType !== DT.FLOAT) throw new CompileError(`an attack perturbs a float input; the model's input '${input.name}' is ${DT[input.elemType] ?? input.elemType} (token ids and other integer inputs have no gradient)`);
  const inputGrad = gradName(input.name);

  const taken = takenNames(graph);
  const created = [...reservedNames(options.heads), inputGrad];
  checkNoClash(taken, created);
  const b = new GraphBuilder([...taken, ...created]);
  const labels = declareLabels(graph, heads);
  initializersToInputs(graph, [...params.map((p) => p.name), ...buffers.map((buf) => buf.name)]);
  const emitted = emitHeads(b, heads, 'sum');
  const correct = heads.some((h) => h.spec.loss === 'cross-entropy') ? emitCorrect(b, heads) : undefined;
  const appended = appendNew(graph, b);
  appended.flush();

  const facts = inferGraph(graph, opset);
  const grads = backward({ graph, facts, opset, loss: emitted.loss, wrt: [input.name], b });
  b.add('Identity', [grads.get(input.name)!], {}, [inputGrad]);
  appended.flush();
  graph.node = topoSort(graph);

  graph.name = `${graph.name || 'model'}_attack`;
  graph.output = [scalarOutput(emitted.loss), ...(correct ? [scalarOutput(correct)] : []), valueInfo(inputGrad, DT.FLOAT, input.shape)];
  return {
    model: withOpset(model, opset),
    inputs: [input],
    labels,
    params: params.map((p) => p.name),
    buffers: buffers.map((buf) => buf.name),
    outputs: { loss: emitted.loss, correct, inputGrad },
  };
}
