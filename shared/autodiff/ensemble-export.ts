/**
 * Ensemble export: K inference models of one architecture (bagging members, each exported by
 * exportInference) become ONE ONNX model that runs every member on the same input and combines
 * their outputs inside the graph, so any ONNX runtime serves the ensemble as it served a member.
 *
 *   x ─┬─► member0/… ─► logits₀ ─┐
 *      ├─► member1/… ─► logits₁ ─┼─► combine ─► probabilities / votes, class
 *      └─► …                     ┘
 *
 * Member k's initializers, node names and intermediate tensors are renamed `member<k>/<name>`;
 * the data inputs keep their names and are shared. Per head, by its loss:
 *   cross-entropy, average: p̄ = (Σₖ Softmax(logitsₖ, axis 1)) / K,  class = ArgMax(p̄, axis 1)
 *   cross-entropy, vote:    votes = Σₖ OneHot(ArgMax(logitsₖ, axis 1), C, axis 1),
 *                           class = ArgMax(votes, axis 1) (a tie goes to the lowest class index)
 *   bce, average:           p̄ = (Σₖ Sigmoid(logitsₖ)) / K
 *   mse, average:           prediction = (Σₖ outputₖ) / K
 * Outputs are named `probabilities`, `votes`, `class`, `prediction`; with several heads each
 * name gets `:<head name>`. Pure graph building: nothing here runs a model.
 */
import { GraphProto, ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from '../proto/gen/onnx.js';
import { GraphBuilder } from '../onnx/builder.js';
import { describeValueInfo, opsetOf, valueInfo, MIN_OPSET } from '../onnx/model.js';
import { DT } from '../onnx/tensor.js';
import type { Dim } from '../onnx/shapes.js';
import type { LossKind } from './compile-types.js';
import { CompileError } from './errors.js';

export type EnsemblePredict = 'average' | 'vote';

/** A head of the members' model: the output that holds its logits (or predictions) and its loss. */
export interface EnsembleHead {
  name: string;
  /** The member output the head reads (logits for cross-entropy and bce, predictions for mse). */
  logits: string;
  loss: LossKind;
}

export interface EnsembleExportOptions {
  predict: EnsemblePredict;
  heads: readonly EnsembleHead[];
}

export type EnsembleOutputKind = 'probabilities' | 'votes' | 'class' | 'prediction';

export interface EnsembleOutput {
  head: string;
  kind: EnsembleOutputKind;
  /** Graph output name. */
  name: string;
}

export interface EnsembleModel {
  model: ModelProto;
  outputs: EnsembleOutput[];
}

/** Prefix of member k's tensors and nodes inside the ensemble graph. */
export function memberPrefix(k: number): string {
  return `member${k}/`;
}

/**
 * Builds the ensemble model from the members' inference models (same data inputs, same opset).
 * The members are not changed.
 */
export function exportEnsemble(members: readonly ModelProto[], opts: EnsembleExportOptions): EnsembleModel {
  if (members.length === 0) throw new CompileError('an ensemble needs at least one member model');
  if (opts.heads.length === 0) throw new CompileError('an ensemble needs at least one head to combine');
  commonOpset(members);
  const first = members[0]!.graph!;
  const inputs = dataInputs(first);
  const inputNames = new Set(inputs.map((i) => i.name));

  const graph = GraphProto.fromPartial({ name: `ensemble_of_${members.length}`, input: inputs });
  const logitsOf = opts.heads.map(() => [] as string[]);
  members.forEach((member, k) => {
    const g = member.graph!;
    checkSameInputs(g, inputs, k);
    const renamed = appendMember(graph, g, memberPrefix(k), inputNames, k);
    opts.heads.forEach((h, i) => {
      const name = renamed.get(h.logits);
      if (name === undefined) throw new CompileError(`head '${h.name}': member ${k} has no tensor '${h.logits}' (no node or initializer makes it)`);
      logitsOf[i]!.push(name);
    });
  });

  const b = new GraphBuilder(takenNames(graph));
  const outputs: EnsembleOutput[] = [];
  const single = opts.heads.length === 1;
  opts.heads.forEach((h, i) => {
    const declared = declaredShape(first, h.logits);
    const name = (kind: EnsembleOutputKind) => b.reserve(single ? kind : `${kind}:${h.name}`);
    for (const out of combineHead(b, h, logitsOf[i]!, opts.predict, name)) {
      outputs.push({ head: h.name, kind: out.kind, name: out.name });
      const shape = out.kind === 'class' ? withoutClassAxis(declared) : declared;
      graph.output.push(valueInfo(out.name, out.kind === 'class' ? DT.INT64 : DT.FLOAT, shape));
    }
  });
  graph.node.push(...b.nodes);
  graph.initializer.push(...b.initializers);

  const m0 = members[0]!;
  const model = ModelProto.fromPartial({
    irVersion: m0.irVersion,
    opsetImport: m0.opsetImport,
    producerName: m0.producerName,
    producerVersion: m0.producerVersion,
    docString: `gradfleet bagging ensemble of ${members.length} members (${opts.predict}); outputs: ${outputs.map((o) => o.name).join(', ')}`,
    graph,
  });
  return { model, outputs };
}

/** Emits one head's combination; returns its outputs. */
function combineHead(b: GraphBuilder, h: EnsembleHead, logits: readonly string[], predict: EnsemblePredict, name: (kind: EnsembleOutputKind) => string): { kind: EnsembleOutputKind; name: string }[] {
  if (predict === 'vote') {
    if (h.loss !== 'cross-entropy') throw new CompileError(`head '${h.name}' has a ${h.loss} loss; majority vote needs a classification (cross-entropy) head — use predict: average`);
    // votes[n, c] = how many members put class c first; OneHot's `values` [off, on] makes them float.
    const depth = b.op('Gather', [b.op('Shape', [logits[0]!]), b.ints([1])], { axis: 0 }, 'classes');
    const onOff = b.floats([0, 1]);
    const ballots = logits.map((l) => b.op('OneHot', [b.op('ArgMax', [l], { axis: 1, keepdims: 0 }, 'member_class'), depth, onOff], { axis: 1 }, 'ballot'));
    const votes = b.add('Sum', ballots, {}, [name('votes')])[0]!;
    // ArgMax returns the first maximal index: a tie goes to the lowest class.
    const cls = b.add('ArgMax', [votes], { axis: 1, keepdims: 0 }, [name('class')])[0]!;
    return [
      { kind: 'votes', name: votes },
      { kind: 'class', name: cls },
    ];
  }
  const k = b.scalar(logits.length);
  if (h.loss === 'mse') {
    const prediction = b.add('Div', [b.op('Sum', [...logits]), k], {}, [name('prediction')])[0]!;
    return [{ kind: 'prediction', name: prediction }];
  }
  const toProbability = (l: string) => (h.loss === 'cross-entropy' ? b.op('Softmax', [l], { axis: 1 }, 'member_probabilities') : b.op('Sigmoid', [l], {}, 'member_probabilities'));
  const mean = b.add('Div', [b.op('Sum', logits.map(toProbability)), k], {}, [name('probabilities')])[0]!;
  if (h.loss !== 'cross-entropy') return [{ kind: 'probabilities', name: mean }];
  const cls = b.add('ArgMax', [mean], { axis: 1, keepdims: 0 }, [name('class')])[0]!;
  return [
    { kind: 'probabilities', name: mean },
    { kind: 'class', name: cls },
  ];
}

/**
 * Appends member graph `g` to `into` under `prefix`; data inputs keep their names. Returns the
 * renaming of every tensor the member defines (initializers and node outputs).
 */
function appendMember(into: GraphProto, g: GraphProto, prefix: string, inputs: ReadonlySet<string>, k: number): Map<string, string> {
  const renamed = new Map<string, string>();
  const rename = (n: string) => {
    if (n === '' || inputs.has(n)) return n;
    let r = renamed.get(n);
    if (r === undefined) renamed.set(n, (r = prefix + n));
    return r;
  };
  for (const t of g.initializer) into.initializer.push({ ...(t as TensorProto), name: rename(t.name) });
  g.node.forEach((node, i) => {
    const sub = node.attribute.find((a) => a.g !== undefined || a.graphs.length > 0);
    if (sub) throw new CompileError(`member ${k}: node '${node.name || node.opType}' holds a subgraph (attribute '${sub.name}'); the ensemble export renames flat graphs only`);
    into.node.push({ ...(node as NodeProto), name: prefix + (node.name || `${node.opType}_${i}`), input: node.input.map(rename), output: node.output.map(rename) });
  });
  for (const input of g.input) if (!inputs.has(input.name) && !renamed.has(input.name)) throw new CompileError(`member ${k}: graph input '${input.name}' is neither a data input of member 0 nor an initializer`);
  return renamed;
}

function commonOpset(members: readonly ModelProto[]): number {
  const opsets = members.map((m, k) => {
    if (!m.graph) throw new CompileError(`member ${k} has no graph`);
    return opsetOf(m);
  });
  const opset = opsets[0]!;
  const other = opsets.findIndex((o) => o !== opset);
  if (other >= 0) throw new CompileError(`member ${other} imports ai.onnx opset ${opsets[other]}, member 0 opset ${opset}: members of an ensemble share one opset`);
  // Softmax along one axis (not flattened to 2-D) is the opset-13 definition.
  if (opset < MIN_OPSET) throw new CompileError(`the members import ai.onnx opset ${opset}; the ensemble export needs ${MIN_OPSET} or later`);
  return opset;
}

/** Graph inputs that are not initializers: what a caller feeds. */
function dataInputs(g: GraphProto): ValueInfoProto[] {
  const inits = new Set(g.initializer.map((t) => t.name));
  return g.input.filter((v) => !inits.has(v.name));
}

function checkSameInputs(g: GraphProto, inputs: readonly ValueInfoProto[], k: number): void {
  const mine = dataInputs(g);
  const describe = (vs: readonly ValueInfoProto[]) => vs.map((v) => `${v.name}:${describeValueInfo(v).elemType}`).join(', ');
  if (describe(mine) !== describe(inputs)) throw new CompileError(`member ${k} has data inputs (${describe(mine)}), member 0 has (${describe(inputs)}): members of an ensemble share their inputs`);
}

function takenNames(g: GraphProto): string[] {
  return [...g.input.map((v) => v.name), ...g.initializer.map((t) => t.name), ...g.node.flatMap((n) => [n.name, ...n.output])];
}

/** The shape member 0 declares for an output, if it declares one. */
function declaredShape(g: GraphProto, name: string): Dim[] | undefined {
  const v = g.output.find((o) => o.name === name);
  return v ? describeValueInfo(v).shape : undefined;
}

function withoutClassAxis(shape: Dim[] | undefined): Dim[] | undefined {
  return shape && shape.length >= 2 ? [shape[0]!, ...shape.slice(2)] : undefined;
}
