/**
 * Loss heads on a forward graph: checks each HeadSpec against the model, declares the label
 * inputs, and emits the per-head losses, the weighted total and the optional `correct` count.
 * The training and the eval compilers both go through here, so their outputs have the same names.
 */
import type { GraphProto } from '../proto/gen/onnx.js';
import type { GraphBuilder } from '../onnx/builder.js';
import { describeValueInfo, valueInfo } from '../onnx/model.js';
import { DT } from '../onnx/tensor.js';
import { formatShape, type Shape } from '../onnx/shapes.js';
import type { GraphFacts } from './infer.js';
import type { HeadSpec, TensorSpec } from './compile-types.js';
import { emitCorrectCount, emitLoss, labelSpec, type LogitsInfo, type Reduction } from './losses.js';
import { CompileError } from './errors.js';

/** Output names shared by the training and the eval graph. */
export const LOSS_OUTPUT = 'loss';
export const CORRECT_OUTPUT = 'correct';
export const headLossName = (head: string): string => `loss:${head}`;
export const headNormalizerName = (head: string): string => `normalizer:${head}`;

export interface ResolvedHead {
  spec: HeadSpec;
  logits: LogitsInfo;
  labels: TensorSpec;
}

/**
 * Checks the heads against the forward graph (names unique, logits present and float, label
 * inputs consistent) and returns them with their label specs. Labels already declared as graph
 * inputs are used as they are; the others are returned for the caller to declare.
 */
export function resolveHeads(graph: GraphProto, facts: GraphFacts, heads: readonly HeadSpec[]): ResolvedHead[] {
  if (heads.length === 0) throw new CompileError('no loss heads: give at least one head (logits, labels, loss)');
  const seen = new Set<string>();
  const labels = new Map<string, TensorSpec>();
  const outputs = graph.output.map((o) => o.name);
  return heads.map((spec) => {
    if (!spec.name || seen.has(spec.name)) throw new CompileError(spec.name ? `two heads are named '${spec.name}'` : 'a head has an empty name');
    seen.add(spec.name);
    if (spec.weight !== undefined && !Number.isFinite(spec.weight)) throw new CompileError(`head '${spec.name}': weight must be a finite number, got ${spec.weight}`);
    const info = facts.info.get(spec.logits);
    if (!info || facts.initializers.has(spec.logits))
      throw new CompileError(`head '${spec.name}': logits '${spec.logits}' is not computed by the model (its outputs: ${outputs.join(', ') || 'none'})`);
    const logits: LogitsInfo = { name: spec.logits, elemType: info.elemType, shape: info.shape };
    const want = labelSpec(spec, logits);
    const declared = graph.input.find((v) => v.name === spec.labels);
    let label: TensorSpec;
    if (declared) {
      const d = describeValueInfo(declared);
      if (d.elemType !== want.elemType)
        throw new CompileError(`head '${spec.name}': labels input '${spec.labels}' is ${DT[d.elemType] ?? d.elemType}, ${spec.loss} needs ${DT[want.elemType]}`);
      label = { name: spec.labels, elemType: d.elemType, shape: d.shape ?? want.shape };
    } else label = { name: spec.labels, elemType: want.elemType, shape: want.shape };
    const other = labels.get(spec.labels);
    if (other && (other.elemType !== label.elemType || formatShape(other.shape) !== formatShape(label.shape)))
      throw new CompileError(`labels '${spec.labels}' are shared by heads that need different labels (${DT[other.elemType]} ${formatShape(other.shape)} vs ${DT[label.elemType]} ${formatShape(label.shape)})`);
    labels.set(spec.labels, label);
    return { spec, logits, labels: label };
  });
}

/** The distinct label inputs of the heads, declaring the ones the graph lacks. */
export function declareLabels(graph: GraphProto, heads: readonly ResolvedHead[]): TensorSpec[] {
  const out = new Map<string, TensorSpec>();
  for (const h of heads) out.set(h.labels.name, h.labels);
  for (const l of out.values()) if (!graph.input.some((v) => v.name === l.name)) graph.input.push(valueInfo(l.name, l.elemType, l.shape as Shape));
  return [...out.values()];
}

export interface EmittedHeads {
  loss: string;
  headLosses: string[];
  headNormalizers: string[];
}

/** Emits every head's loss (`loss:<head>`), its normalizer and the weighted total (`loss`). */
export function emitHeads(b: GraphBuilder, heads: readonly ResolvedHead[], reduction: Reduction): EmittedHeads {
  const terms: string[] = [];
  const headLosses: string[] = [];
  const headNormalizers: string[] = [];
  for (const h of heads) {
    const { loss, normalizer } = emitLoss(b, h.spec, h.logits, h.labels.name, reduction);
    headLosses.push(b.add('Identity', [loss], {}, [headLossName(h.spec.name)])[0]!);
    headNormalizers.push(b.add('Identity', [normalizer], {}, [headNormalizerName(h.spec.name)])[0]!);
    const w = h.spec.weight ?? 1;
    terms.push(w === 1 ? loss : b.op('Mul', [loss, b.scalar(w)], {}, 'weighted_loss'));
  }
  let total = terms[0]!;
  for (const t of terms.slice(1)) total = b.op('Add', [total, t], {}, 'total_loss');
  return { loss: b.add('Identity', [total], {}, [LOSS_OUTPUT])[0]!, headLosses, headNormalizers };
}

/**
 * The `correct` output: the count of argmax == label for the first cross-entropy head (the
 * classification head whose accuracy is reported).
 */
export function emitCorrect(b: GraphBuilder, heads: readonly ResolvedHead[]): string {
  const head = heads.find((h) => h.spec.loss === 'cross-entropy');
  if (!head) throw new CompileError(`'correct' counts classification hits and needs a cross-entropy head; the heads are ${heads.map((h) => `${h.spec.name} (${h.spec.loss})`).join(', ')}`);
  return emitCorrectCount(b, head.logits.name, head.labels.name, CORRECT_OUTPUT);
}

/** Output names the compilers create, which the forward graph must not already use. */
export function reservedNames(heads: readonly HeadSpec[]): string[] {
  return [LOSS_OUTPUT, CORRECT_OUTPUT, ...heads.flatMap((h) => [headLossName(h.name), headNormalizerName(h.name)])];
}

/** Throws when a name the compiler must create is already a tensor of the forward graph. */
export function checkNoClash(taken: ReadonlySet<string>, names: readonly string[]): void {
  const clash = names.find((n) => taken.has(n));
  if (clash) throw new CompileError(`the model already has a tensor named '${clash}', which gradfleet reserves for an output of the compiled graph; rename it`);
}

/** A scalar float output declaration. */
export function scalarOutput(name: string) {
  return valueInfo(name, DT.FLOAT, []);
}
