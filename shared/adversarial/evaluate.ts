/**
 * Attack evaluation of an inference model: which output the attack's loss reads, the attack graph
 * with the model's own weights, and clean and adversarial accuracy and mean loss over a split
 * (what `gradfleet eval` prints). Sums are float64 over batches, divided once.
 */
import type { ModelProto } from '../proto/gen/onnx.js';
import { GraphBuilder } from '../onnx/builder.js';
import { describeValueInfo, valueInfo } from '../onnx/model.js';
import { DT, toFloat32 } from '../onnx/tensor.js';
import { cloneModel, takenNames } from '../autodiff/forward-model.js';
import { compileAttack, type AttackGraph } from '../autodiff/compile-attack.js';
import type { HeadSpec } from '../autodiff/compile-types.js';
import { CompileError } from '../autodiff/errors.js';
import { gatherBatch, type BatchMemory } from '../data/batch.js';
import type { Dataset } from '../data/dataset.js';
import type { Device } from '../engine/device.js';
import { AttackRunner } from '../engine/attack-runner.js';
import type { AttackSpec } from './attack-spec.js';

/** The smallest normal float32: log of an averaged probability that underflowed stays finite. */
const TINY_PROBABILITY = 1.1754943508222875e-38;

/** Output of a bagging ensemble that averages probabilities (shared/autodiff/ensemble-export.ts). */
const ENSEMBLE_PROBABILITIES = 'probabilities';

export interface ClassifierHead {
  /** The model the attack compiles: `model` itself, or with log(probabilities) appended for an averaging ensemble. */
  forward: ModelProto;
  head: HeadSpec;
  /** What the loss reads, for reports: `logits 'logits'` or `log of 'probabilities'`. */
  describe: string;
}

/**
 * The cross-entropy head of an inference model: `logits` when given (an output of the model),
 * else an averaging ensemble's `probabilities` (through log(max(p, tiny)), so the cross-entropy
 * is −log p̄_y), else the model's only float output. Vote ensembles have no differentiable output.
 */
export function classifierHead(model: ModelProto, o: { logits?: string } = {}): ClassifierHead {
  const graph = model.graph;
  if (!graph) throw new CompileError('the model has no graph');
  const outputs = graph.output.map((v) => ({ name: v.name, elemType: describeValueInfo(v).elemType }));
  const names = outputs.map((v) => v.name).join(', ') || 'none';
  const taken = takenNames(graph);
  let labels = 'labels';
  for (let i = 1; taken.has(labels); i++) labels = `labels_${i}`;
  const head = (logits: string): HeadSpec => ({ name: logits, logits, labels, loss: 'cross-entropy' });
  if (o.logits !== undefined) {
    if (!outputs.some((v) => v.name === o.logits)) throw new CompileError(`logits '${o.logits}' is not an output of the model (its outputs: ${names})`);
    return { forward: sumsAsAdds(model), head: head(o.logits), describe: `logits '${o.logits}'` };
  }
  if (outputs.some((v) => v.name === ENSEMBLE_PROBABILITIES)) {
    const forward = sumsAsAdds(model);
    const g = forward.graph!;
    const b = new GraphBuilder(takenNames(g));
    const clipped = b.op('Clip', [ENSEMBLE_PROBABILITIES, b.scalar(TINY_PROBABILITY)], {}, 'attack_probabilities_clipped');
    const logits = b.op('Log', [clipped], {}, 'attack_log_probabilities');
    g.node.push(...b.nodes);
    g.initializer.push(...b.initializers);
    const declared = describeValueInfo(g.output.find((v) => v.name === ENSEMBLE_PROBABILITIES)!);
    g.output.push(valueInfo(logits, DT.FLOAT, declared.shape));
    return { forward, head: head(logits), describe: `log of '${ENSEMBLE_PROBABILITIES}' (an averaging ensemble)` };
  }
  if (outputs.some((v) => v.name === 'votes')) throw new CompileError(`the model is a majority-vote ensemble (outputs: ${names}); votes have no gradient to attack. Attack an ensemble exported with predict: average, or one of its members (members/<k>/model.onnx)`);
  const floats = outputs.filter((v) => v.elemType === DT.FLOAT);
  if (floats.length !== 1) throw new CompileError(`the model has ${floats.length === 0 ? 'no float output' : `several float outputs (${names})`}; name the logits the attack's cross-entropy reads (--logits, or model.logits in the job)`);
  return { forward: sumsAsAdds(model), head: head(floats[0]!.name), describe: `logits '${floats[0]!.name}'` };
}

/**
 * The model with each n-input Sum (an ensemble adds its members' probabilities with one) written
 * as n−1 Adds in input order, which the gradient rules cover; a copy when there is any, else `model`.
 */
export function sumsAsAdds(model: ModelProto): ModelProto {
  if (!model.graph?.node.some((n) => n.opType === 'Sum' && (n.domain === '' || n.domain === 'ai.onnx'))) return model;
  const copy = cloneModel(model);
  const g = copy.graph!;
  const b = new GraphBuilder(takenNames(g));
  g.node = g.node.flatMap((n) => {
    if (n.opType !== 'Sum' || (n.domain !== '' && n.domain !== 'ai.onnx')) return [n];
    const first = b.nodes.length;
    const inputs = n.input.filter((i) => i !== '');
    let acc = inputs[0]!;
    for (let k = 1; k < inputs.length; k++) acc = k === inputs.length - 1 ? b.add('Add', [acc, inputs[k]!], {}, [n.output[0]!])[0]! : b.op('Add', [acc, inputs[k]!], {}, 'sum_partial');
    if (inputs.length === 1) b.add('Identity', [acc], {}, [n.output[0]!]);
    return b.nodes.slice(first);
  });
  return copy;
}

/** Values and shapes of the named float initializers of `model`, in the order asked. */
export function initializerValues(model: ModelProto, names: readonly string[]): { values: Float32Array[]; shapes: Map<string, number[]> } {
  const byName = new Map(model.graph!.initializer.map((t) => [t.name, t]));
  const shapes = new Map<string, number[]>();
  const values = names.map((name) => {
    const t = byName.get(name);
    if (!t) throw new CompileError(`'${name}' is not an initializer of the model`);
    shapes.set(name, t.dims.map(Number));
    return toFloat32(t);
  });
  return { values, shapes };
}

/** An attack runner on `model`'s own weights. */
export async function openModelAttack(model: ModelProto, head: HeadSpec, device: Device, onFallback?: (reason: string) => void): Promise<{ graph: AttackGraph; runner: AttackRunner }> {
  const graph = compileAttack(model, { heads: [head] });
  const params = initializerValues(model, graph.params);
  const buffers = initializerValues(model, graph.buffers);
  const runner = await AttackRunner.open(graph, device, new Map([...params.shapes, ...buffers.shapes]), onFallback);
  runner.setWeights(params.values, buffers.values);
  return { graph, runner };
}

export interface SplitFigures {
  accuracy: number;
  /** Mean loss per sample. */
  loss: number;
}

export interface AttackFigures extends SplitFigures {
  spec: AttackSpec;
}

export interface AttackEvaluation {
  count: number;
  clean: SplitFigures;
  attacks: AttackFigures[];
}

/**
 * Clean and adversarial figures of `indices` (in batches of `batch`), one entry per spec. The
 * random start of sample i depends on (seed, i) only, so the figures do not depend on `batch`.
 */
export async function evaluateAttacks(runner: AttackRunner, dataset: Dataset, indices: Uint32Array, specs: readonly AttackSpec[], o: { batch?: number; seed?: number } = {}): Promise<AttackEvaluation> {
  if (indices.length === 0) throw new Error('no samples to evaluate');
  const batch = o.batch ?? 500;
  const memory: BatchMemory = {};
  const sums = specs.map(() => ({ correct: 0, loss: 0 }));
  let clean = { correct: 0, loss: 0 };
  for (let at = 0; at < indices.length; at += batch) {
    const part = indices.subarray(at, Math.min(indices.length, at + batch));
    const b = gatherBatch(dataset, part, memory);
    const r = await runner.attackAll(b, specs, o.seed ?? 0, part);
    clean = { correct: clean.correct + r.correct, loss: clean.loss + r.lossSum };
    r.attacks.forEach((a, s) => {
      sums[s]!.correct += a.correct;
      sums[s]!.loss += a.lossSum;
    });
  }
  const n = indices.length;
  return {
    count: n,
    clean: { accuracy: clean.correct / n, loss: clean.loss / n },
    attacks: specs.map((spec, s) => ({ spec, accuracy: sums[s]!.correct / n, loss: sums[s]!.loss / n })),
  };
}
