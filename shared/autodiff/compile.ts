/**
 * The training-graph compiler: forward ONNX model → one ONNX graph of standard ops that takes
 * the data, the labels, every trainable parameter (as an input), the buffers and the dropout
 * masks, and returns the loss, `loss:<head>`, `grad:<param>` for every parameter (in the forward
 * model's initializer order), `state:<buffer>` for batch-norm running statistics and, on request,
 * `correct` and `grad:<input>`.
 *
 *   forward ─► checks (opset, domains, ops) ─► training mode (dropout masks, BN batch stats)
 *           ─► params/buffers become inputs ─► losses per head ─► backward walk ─► outputs
 */
import type { ModelProto } from '../proto/gen/onnx.js';
import { OperatorSetIdProto, ModelProto as ModelProtoMsg } from '../proto/gen/onnx.js';
import { GraphBuilder } from '../onnx/builder.js';
import { valueInfo, IR_VERSION } from '../onnx/model.js';
import { DT } from '../onnx/tensor.js';
import { formatShape, type Shape } from '../onnx/shapes.js';
import { inferGraph, topoSort } from './infer.js';
import { backward } from './backward.js';
import { toTrainingMode } from './training-mode.js';
import { BATCH, checkForwardModel, classifyInitializers, cloneModel, initializersToInputs, normaliseConstants, normaliseInputs, takenNames } from './forward-model.js';
import { checkNoClash, declareLabels, emitCorrect, emitHeads, reservedNames, resolveHeads, scalarOutput } from './heads.js';
import { appendNew } from './graph-append.js';
import type { BufferInfo, CompileOptions, DropoutMaskSpec, TrainingGraph } from './compile-types.js';
import { CompileError } from './errors.js';
import './rules/index.js';

/** ScatterND/ScatterElements with reduction='add' (used by gather-type backward rules) need opset 16. */
export const MIN_TRAINING_OPSET = 16;

/** Output names of the training graph, by what they hold. */
export const gradName = (tensor: string): string => `grad:${tensor}`;
export const stateName = (buffer: string): string => `state:${buffer}`;

/**
 * Compiles `forward` into a training graph. Throws UnsupportedOpError (op, node, supported list)
 * for a model with an op gradfleet cannot differentiate and CompileError for anything else it
 * cannot compile; never returns a partial graph.
 */
export function compileTraining(forward: ModelProto, opts: CompileOptions): TrainingGraph {
  const forwardOpset = checkForwardModel(forward);
  const reduction = opts.reduction ?? 'mean';
  if (reduction !== 'mean' && reduction !== 'sum') throw new CompileError(`reduction must be 'mean' or 'sum', got '${reduction as string}'`);
  const opset = Math.max(forwardOpset, MIN_TRAINING_OPSET);

  const model = cloneModel(forward);
  const graph = model.graph!;
  normaliseConstants(graph);
  const declaredInputs = normaliseInputs(graph);
  const facts0 = inferGraph(graph, opset);
  const heads = resolveHeads(graph, facts0, opts.heads);
  const labelNames = new Set(heads.map((h) => h.labels.name));
  const inputs = declaredInputs.filter((i) => !labelNames.has(i.name));
  const { params, buffers: bufferRoles } = classifyInitializers(graph, opts.freeze);

  const inputGrads = opts.inputGradients ?? [];
  for (const name of inputGrads) {
    const input = inputs.find((i) => i.name === name);
    if (!input) throw new CompileError(`input gradient requested for '${name}', which is not a data input of the model (inputs: ${inputs.map((i) => i.name).join(', ') || 'none'})`);
    if (input.elemType !== DT.FLOAT) throw new CompileError(`input gradient requested for '${name}', which is ${DT[input.elemType]}; only float inputs have gradients`);
  }

  const taken = takenNames(graph);
  const outputsToCreate = [
    ...reservedNames(opts.heads),
    ...params.map((p) => p.grad),
    ...inputGrads.map(gradName),
    ...bufferRoles.map((buf) => stateName(buf.name)),
  ];
  checkNoClash(taken, outputsToCreate);
  const b = new GraphBuilder([...taken, ...outputsToCreate]);

  // Training mode: dropout masks become inputs (or native training dropout), BN uses batch stats.
  const mode = toTrainingMode(graph, b, { dropout: opts.dropout ?? 'mask-input', opset });
  const appended = appendNew(graph, b);
  const dropoutMasks = mode.masks.map((m): DropoutMaskSpec => ({ name: m.input, shape: maskShape(m.node, m.of, facts0.info.get(m.of)?.shape), ratio: m.ratio }));
  const buffers = bufferRoles.map((buf): BufferInfo => {
    const update = mode.stateUpdates.find((u) => u.buffer === buf.name);
    if (!update) throw new CompileError(`buffer '${buf.name}' (a batch-norm running statistic) got no update in training mode`);
    return { ...buf, updated: stateName(buf.name) };
  });

  // Inputs in the order data, labels, params, buffers, dropout masks.
  const maskNames = new Set(dropoutMasks.map((m) => m.name));
  graph.input = graph.input.filter((v) => !maskNames.has(v.name));
  const labels = declareLabels(graph, heads);
  initializersToInputs(graph, [...params.map((p) => p.name), ...buffers.map((buf) => buf.name)]);
  for (const m of dropoutMasks) graph.input.push(valueInfo(m.name, DT.FLOAT, m.shape));

  const emitted = emitHeads(b, heads, reduction);
  appended.flush();

  const facts = inferGraph(graph, opset);
  const wrt = [...params.map((p) => p.name), ...inputGrads];
  const grads = backward({ graph, facts, opset, loss: emitted.loss, wrt, b });

  const correct = opts.correct ? emitCorrect(b, heads) : undefined;
  for (const p of params) b.add('Identity', [grads.get(p.name)!], {}, [p.grad]);
  for (const name of inputGrads) b.add('Identity', [grads.get(name)!], {}, [gradName(name)]);
  for (const buf of buffers) b.add('Identity', [mode.stateUpdates.find((u) => u.buffer === buf.name)!.output], {}, [buf.updated]);
  appended.flush();
  graph.node = topoSort(graph);

  graph.name = `${graph.name || 'model'}_training`;
  graph.output = [
    scalarOutput(emitted.loss),
    ...emitted.headLosses.map(scalarOutput),
    ...emitted.headNormalizers.map(scalarOutput),
    ...(correct ? [scalarOutput(correct)] : []),
    ...params.map((p) => valueInfo(p.grad, DT.FLOAT, p.shape)),
    ...inputGrads.map((name) => valueInfo(gradName(name), DT.FLOAT, inputs.find((i) => i.name === name)!.shape)),
    ...buffers.map((buf) => valueInfo(buf.updated, DT.FLOAT, buf.shape)),
  ];

  return {
    model: withOpset(model, opset),
    opset,
    params,
    buffers,
    inputs,
    labels,
    dropoutMasks,
    outputs: { loss: emitted.loss, headLosses: emitted.headLosses, headNormalizers: emitted.headNormalizers, correct, inputGrads: inputGrads.map(gradName) },
    reduction,
  };
}

/**
 * A dropout mask's shape: the dropped tensor's, which must be static except for the batch
 * dimension (the runner fills the symbolic dims with the batch size).
 */
function maskShape(node: string, of: string, shape: Shape | undefined): Shape {
  if (!shape || shape.some((d) => typeof d !== 'number' && d !== BATCH))
    throw new CompileError(`Dropout node '${node}': the shape of its input '${of}' is ${formatShape(shape)}; a mask input needs every dimension but the batch (${BATCH}) known. Compile with dropout: 'native' instead`);
  return [...shape];
}

/** The model under the default-domain opset `opset` only (other domains' imports are unused). */
export function withOpset(model: ModelProto, opset: number): ModelProto {
  return ModelProtoMsg.fromPartial({
    ...model,
    irVersion: Math.max(model.irVersion, IR_VERSION),
    opsetImport: [OperatorSetIdProto.fromPartial({ domain: '', version: opset })],
    producerName: 'gradfleet',
    producerVersion: '0.1.0',
    functions: [],
  });
}
