/**
 * The eval-graph compiler: the forward model in eval mode (dropout off, batch norm on running
 * statistics) plus the heads' losses as SUMS over the batch, so that the coordinator adds exact
 * sums across validation shards and divides once. Params and buffers are inputs under the same
 * names as in the training graph, so one parameter map feeds both.
 */
import type { ModelProto } from '../proto/gen/onnx.js';
import { GraphBuilder } from '../onnx/builder.js';
import { describeValueInfo, valueInfo } from '../onnx/model.js';
import { inferGraph, topoSort } from './infer.js';
import { toEvalMode } from './training-mode.js';
import { checkForwardModel, classifyInitializers, cloneModel, initializersToInputs, normaliseConstants, normaliseInputs, takenNames } from './forward-model.js';
import { checkNoClash, declareLabels, emitCorrect, emitHeads, reservedNames, resolveHeads, scalarOutput } from './heads.js';
import { appendNew } from './graph-append.js';
import { withOpset } from './compile.js';
import type { CompileOptions, EvalGraph } from './compile-types.js';
import './rules/index.js';

/**
 * Compiles `forward` into an eval graph. Uses `heads`, `freeze` (so the same tensors are params)
 * and `correct` from the options; the reduction is always 'sum'.
 */
export function compileEval(forward: ModelProto, opts: Pick<CompileOptions, 'heads' | 'freeze' | 'correct'>): EvalGraph {
  const opset = checkForwardModel(forward);
  const model = cloneModel(forward);
  const graph = model.graph!;
  normaliseConstants(graph);
  const declaredInputs = normaliseInputs(graph);
  const { params, buffers } = classifyInitializers(graph, opts.freeze);
  toEvalMode(graph);
  const facts = inferGraph(graph, opset);
  const heads = resolveHeads(graph, facts, opts.heads);
  const labelNames = new Set(heads.map((h) => h.labels.name));

  const taken = takenNames(graph);
  checkNoClash(taken, reservedNames(opts.heads));
  const b = new GraphBuilder([...taken, ...reservedNames(opts.heads)]);
  const labels = declareLabels(graph, heads);
  initializersToInputs(graph, [...params.map((p) => p.name), ...buffers.map((buf) => buf.name)]);
  const emitted = emitHeads(b, heads, 'sum');
  const correct = opts.correct ? emitCorrect(b, heads) : undefined;
  appendNew(graph, b).flush();
  graph.node = topoSort(graph);

  const logits = heads.map((h) => h.logits.name).filter((name, i, all) => all.indexOf(name) === i);
  const forwardOutputs = new Map(graph.output.map((o) => [o.name, o]));
  graph.name = `${graph.name || 'model'}_eval`;
  graph.output = [
    scalarOutput(emitted.loss),
    ...emitted.headLosses.map(scalarOutput),
    ...emitted.headNormalizers.map(scalarOutput),
    ...(correct ? [scalarOutput(correct)] : []),
    ...logits.map((name) => {
      const declared = forwardOutputs.get(name);
      const info = facts.info.get(name)!;
      // The exporter's declaration may fix the example batch size; ours keeps the batch symbolic.
      return valueInfo(name, declared ? describeValueInfo(declared).elemType : info.elemType, info.shape);
    }),
  ];

  return {
    model: withOpset(model, opset),
    params: params.map((p) => p.name),
    buffers: buffers.map((buf) => buf.name),
    inputs: declaredInputs.filter((i) => !labelNames.has(i.name)),
    labels,
    outputs: { loss: emitted.loss, headLosses: emitted.headLosses, headNormalizers: emitted.headNormalizers, correct, logits },
  };
}
