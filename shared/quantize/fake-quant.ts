/**
 * Quantization-aware training (QAT): a forward-graph rewrite that makes the model compute with
 * the values its int8 export will hold, so training adapts the weights to the rounding.
 *
 *   weight W of a Gemm/MatMul/Conv (the nodes and axes toInt8 quantizes, quantizable.ts):
 *     s = max|W| / 127 per output channel (1 for an all-zero channel)
 *     W ─► QuantizeLinear(s, zp = 0: int8, axis) ─► DequantizeLinear ─► the node
 *     exactly quantizePerChannel's scheme (scales.ts): the rounding training sees is the one
 *     `gradfleet quantize` applies to the trained weights.
 *   activation a feeding such a node (options.activations):
 *     a ─► DynamicQuantizeLinear (uint8, range = the batch's own [min(0, min a), max(0, max a)])
 *       ─► DequantizeLinear ─► the node
 *     (the export calibrates its ranges on training samples instead; the scheme is the same).
 *
 * Gradient: straight-through. The autodiff rules of QuantizeLinear/DequantizeLinear/
 * DynamicQuantizeLinear (shared/autodiff/rules/quantize.ts) pass dY through a Q → DQ pair to
 * its input unchanged, and give the computed scales none (zeros), as torch.fake_quantize_*.
 * So compileTraining and compileEval take the rewritten model as any other, with the same
 * parameters (the same initializers, names and order) as the plain one.
 *
 * Every node, tensor and initializer the rewrite adds is named `fake_quant/…`: withoutFakeQuant
 * removes them again (the inference export does, see shared/autodiff/export.ts), giving back the
 * plain float model, which `gradfleet quantize` turns into int8 as any other.
 */
import { NodeProto, type GraphProto, type ModelProto } from '../proto/gen/onnx.js';
import { GraphBuilder } from '../onnx/builder.js';
import { decodeModel, encodeModel, opsetOf } from '../onnx/model.js';
import { DT } from '../onnx/tensor.js';
import { TensorProto } from '../proto/gen/onnx.js';
import { quantizableNodes } from './quantizable.js';

export interface FakeQuantOptions {
  /** Per-channel symmetric int8 fake quantization of every Gemm/MatMul/Conv weight. */
  weights: boolean;
  /** Per-tensor asymmetric uint8 fake quantization of those nodes' float inputs (batch range). */
  activations: boolean;
}

/** Prefix of every name withFakeQuant adds. */
export const FAKE_QUANT_PREFIX = 'fake_quant/';

const isOurs = (name: string): boolean => name.startsWith(FAKE_QUANT_PREFIX);

/** A deep copy through the wire format: the rewrites never touch the caller's model. */
const clone = (m: ModelProto): ModelProto => decodeModel(encodeModel(m));

/** Whether `model` holds fake quantization added by withFakeQuant. */
export function hasFakeQuant(model: ModelProto): boolean {
  const g = model.graph;
  return !!g && (g.node.some((n) => isOurs(n.name) || n.output.some(isOurs)) || g.initializer.some((t) => isOurs(t.name)));
}

/**
 * Returns a copy of the forward model with fake quantization inserted: every weight input of
 * Gemm/MatMul/Conv quantized per output channel, symmetric int8 (scale = max|w|/127 per channel,
 * the scheme of shared/quantize's int8 export), and (activations) the float input of each of
 * those ops quantized per tensor as uint8 (asymmetric, range from the batch's own min/max, 0
 * included). Gradient: straight-through (identity) for both. A weight read by several nodes
 * (parameter sharing) is quantized once, along the first node's channel axis, as the export does.
 */
export function withFakeQuant(forward: ModelProto, options: FakeQuantOptions): ModelProto {
  const model = clone(forward);
  const g = model.graph;
  if (!g) throw new Error('fake quantization: the model has no graph');
  if (hasFakeQuant(model)) throw new Error(`fake quantization: the model already holds fake quantization (names starting with '${FAKE_QUANT_PREFIX}')`);
  const opset = opsetOf(model);
  if (opset < 13 || opset > 17) throw new Error(`fake quantization: the model imports ai.onnx opset ${opset}; per-channel QuantizeLinear needs 13, and ReduceMax takes its axes as an attribute up to 17`);
  if (!options.weights && !options.activations) return model;

  const b = new GraphBuilder(namesIn(g), FAKE_QUANT_PREFIX);
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const nonFloatInputs = new Set(g.input.filter((v) => (v.type?.tensorType?.elemType ?? DT.FLOAT) !== DT.FLOAT).map((v) => v.name));
  const quantizedWeight = new Map<string, string>();
  const quantizedActivation = new Map<string, string>();
  const before = new Map<NodeProto, NodeProto[]>();

  for (const t of quantizableNodes(g)) {
    const first = b.nodes.length;
    let w = t.weight;
    if (options.weights) {
      w = quantizedWeight.get(t.weight) ?? emitWeight(b, t.weight, inits.get(t.weight)!.dims.map(Number), t.axis);
      quantizedWeight.set(t.weight, w);
    }
    let a = t.activation;
    if (options.activations && !nonFloatInputs.has(t.activation)) {
      a = quantizedActivation.get(t.activation) ?? emitActivation(b, t.activation);
      quantizedActivation.set(t.activation, a);
    }
    t.node.input[0] = a;
    t.node.input[1] = w;
    // New nodes go right before the first node that reads them: their own inputs (a weight, an
    // activation produced earlier) are ready there, since the graph is topologically sorted.
    if (b.nodes.length > first) before.set(t.node, b.nodes.slice(first));
  }
  g.node = g.node.flatMap((n) => [...(before.get(n) ?? []), n]);
  g.initializer.push(...b.initializers);
  return model;
}

/** W ─► Q(s, 0, axis) ─► DQ, with s = max|W|/127 per channel along `axis` (1 where max|W| = 0). */
function emitWeight(b: GraphBuilder, weight: string, dims: readonly number[], axis: number): string {
  const channels = dims[axis]!;
  const reduced = dims.map((_, i) => i).filter((i) => i !== axis);
  const maxAbs = b.op('ReduceMax', [b.op('Abs', [weight], {}, `${weight}_abs`)], { axes: reduced, keepdims: 0 }, `${weight}_max_abs`);
  const scale = b.op('Where', [b.op('Greater', [maxAbs, b.scalar(0)], {}, `${weight}_nonzero`), b.op('Div', [maxAbs, b.scalar(127)], {}, `${weight}_max_abs_127`), b.scalar(1)], {}, `${weight}_scale`);
  const zeroPoint = b.initializer(TensorProto.fromPartial({ name: b.fresh(`${weight}_zero_point`), dataType: DT.INT8, dims: [channels], rawData: Buffer.alloc(channels) }));
  const q = b.op('QuantizeLinear', [weight, scale, zeroPoint], { axis }, `${weight}_quantized`);
  return b.op('DequantizeLinear', [q, scale, zeroPoint], { axis }, `${weight}_fake_quantized`);
}

/** a ─► DynamicQuantizeLinear ─► DQ: uint8 with the range of this batch's values and 0. */
function emitActivation(b: GraphBuilder, activation: string): string {
  const [q, scale, zeroPoint] = b.add('DynamicQuantizeLinear', [activation], {}, [b.fresh(`${activation}_quantized`), b.fresh(`${activation}_scale`), b.fresh(`${activation}_zero_point`)], `${activation}_quantize`);
  return b.op('DequantizeLinear', [q!, scale!, zeroPoint!], {}, `${activation}_fake_quantized`);
}

/**
 * The plain model back from one withFakeQuant made (or from its inference export): every
 * `fake_quant/` node and initializer removed, and each node that read a fake-quantized tensor
 * reading the original again. Initializer values are kept, so a trained QAT model gives the
 * trained float model. A model without fake quantization comes back as an unchanged copy.
 */
export function withoutFakeQuant(model: ModelProto): ModelProto {
  const m = clone(model);
  const g = m.graph;
  if (!g || !hasFakeQuant(m)) return m;
  const producer = new Map<string, NodeProto>();
  for (const n of g.node) for (const o of n.output) if (o) producer.set(o, n);
  /** The original tensor behind a fake-quantized one: back along input 0 out of our nodes. */
  const original = (name: string): string => {
    let t = name;
    for (let hops = 0; isOurs(t); hops++) {
      const p = producer.get(t);
      if (!p || !p.input[0] || hops > g.node.length) throw new Error(`fake quantization: cannot trace '${name}' back to the tensor it quantizes`);
      t = p.input[0];
    }
    return t;
  };
  g.node = g.node.filter((n) => !isOurs(n.name));
  for (const n of g.node) n.input = n.input.map((i) => (i && isOurs(i) ? original(i) : i));
  for (const o of g.output) if (isOurs(o.name)) throw new Error(`fake quantization: graph output '${o.name}' is a fake-quantized tensor`);
  g.initializer = g.initializer.filter((t) => !isOurs(t.name));
  g.valueInfo = g.valueInfo.filter((v) => !isOurs(v.name));
  return m;
}

function namesIn(g: GraphProto): string[] {
  const names = new Set<string>();
  for (const v of [...g.input, ...g.output, ...g.valueInfo]) names.add(v.name);
  for (const t of g.initializer) names.add(t.name);
  for (const n of g.node) {
    names.add(n.name);
    for (const x of [...n.input, ...n.output]) if (x) names.add(x);
  }
  return [...names];
}
