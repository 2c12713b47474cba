/**
 * Reading a forward model for compilation: what gradfleet accepts (opsets 13..17 of the default
 * domain, no local functions, no external or sparse data, only ops the registry knows), and which
 * of its initializers are trainable parameters, buffers (batch-norm running statistics) or plain
 * constants. Shared by the training compiler, the eval compiler and the inference export, so the
 * three agree on what a parameter is.
 */
import { ModelProto, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto } from '../proto/gen/onnx.js';
import { attrTensor, hasAttr, makeAttributes } from '../onnx/attributes.js';
import { describeValueInfo, opsetOf, valueInfo, MIN_OPSET, MAX_OPSET } from '../onnx/model.js';
import { DT, float32Tensor, int64Tensor, toFloat32 } from '../onnx/tensor.js';
import type { Shape } from '../onnx/shapes.js';
import { ruleFor } from './registry.js';
import { CompileError } from './errors.js';
import type { ParamInfo, TensorSpec } from './compile-types.js';

/** The symbol every data input's first (batch) dimension is given. */
export const BATCH = 'N';

/**
 * Checks that gradfleet can compile `model` and returns its default-domain opset. Every node's op
 * is looked up in the registry first, so an unsupported model fails here, naming the op, the
 * node and the supported list (UnsupportedOpError), before any graph is built.
 */
export function checkForwardModel(model: ModelProto): number {
  const graph = model.graph;
  if (!graph) throw new CompileError('the model has no graph');
  const opset = opsetOf(model);
  if (opset < MIN_OPSET || opset > MAX_OPSET) throw new CompileError(`the model imports ai.onnx opset ${opset}; gradfleet compiles opsets ${MIN_OPSET} to ${MAX_OPSET} (re-export with opset_version=${MAX_OPSET})`);
  if (model.functions.length > 0)
    throw new CompileError(`the model defines local functions (${model.functions.map((f) => `${f.domain}.${f.name}`).join(', ')}); gradfleet compiles only graphs of standard ops (export with the functions inlined)`);
  if (graph.sparseInitializer.length > 0)
    throw new CompileError(`the model has sparse initializers (${graph.sparseInitializer.map((s) => s.values?.name ?? '?').join(', ')}); gradfleet reads dense initializers only`);
  for (const t of graph.initializer) if (t.dataLocation === 1 || t.externalData.length > 0) throw new CompileError(`initializer '${t.name}' uses external data; gradfleet reads models with all weights inside the file (save with save_as_external_data=False)`);
  for (const node of graph.node) {
    if (isConstantNode(node)) {
      const t = attrTensor(node, 'value');
      if (t && (t.dataLocation === 1 || t.externalData.length > 0)) throw new CompileError(`Constant node '${node.name}' uses external data; gradfleet reads models with all weights inside the file`);
      if (t || NUMERIC_CONSTANT_ATTRS.some((a) => hasAttr(node, a))) continue; // folded by shape inference (see normaliseConstants)
      throw new CompileError(`Constant node '${node.name}' holds a ${node.attribute[0]?.name ?? 'missing'} value; gradfleet reads numeric constants only`);
    }
    ruleFor(node); // throws UnsupportedOpError (also for nodes of any other domain)
  }
  return opset;
}

const NUMERIC_CONSTANT_ATTRS = ['value_float', 'value_floats', 'value_int', 'value_ints'] as const;

/**
 * Rewrites Constant nodes written with value_float/value_floats/value_int/value_ints into the
 * equivalent `value` tensor, the one form shape inference folds.
 */
export function normaliseConstants(graph: GraphProto): void {
  for (const node of graph.node) {
    if (!isConstantNode(node) || attrTensor(node, 'value')) continue;
    const a = node.attribute.find((x) => (NUMERIC_CONSTANT_ATTRS as readonly string[]).includes(x.name));
    if (!a) continue;
    const t =
      a.name === 'value_float' ? float32Tensor('', [], [a.f])
      : a.name === 'value_floats' ? float32Tensor('', [a.floats.length], a.floats)
      : a.name === 'value_int' ? int64Tensor('', [], [a.i])
      : int64Tensor('', [a.ints.length], a.ints);
    node.attribute = makeAttributes({ value: t });
  }
}

function isConstantNode(node: NodeProto): boolean {
  return node.opType === 'Constant' && (node.domain === '' || node.domain === 'ai.onnx');
}

/** A deep copy, so that compiling never changes the caller's model. */
export function cloneModel(model: ModelProto): ModelProto {
  return ModelProto.decode(ModelProto.encode(model).finish());
}

/**
 * Normalises the graph's declarations in place: drops graph inputs that merely shadow
 * initializers (old exporters list them), gives every data input the symbolic batch dimension
 * `N`, and drops value_info (an exporter's shapes for a fixed example batch would contradict a
 * symbolic one). Returns the data inputs.
 */
export function normaliseInputs(graph: GraphProto): TensorSpec[] {
  const initNames = new Set(graph.initializer.map((t) => t.name));
  graph.input = graph.input.filter((v) => !initNames.has(v.name));
  graph.valueInfo = [];
  return graph.input.map((v, i) => {
    const d = describeValueInfo(v);
    if (!d.shape) throw new CompileError(`graph input '${v.name}' has no declared shape; gradfleet needs each input's rank (its batch dimension first)`);
    const shape: Shape = d.shape.map((dim, k) => (k === 0 ? BATCH : dim));
    graph.input[i] = valueInfo(v.name, d.elemType, shape);
    return { name: v.name, elemType: d.elemType, shape };
  });
}

export interface Consumer {
  node: NodeProto;
  slot: number;
}

/** For each tensor name, the nodes (and input slots) that read it. */
export function consumersOf(graph: GraphProto): Map<string, Consumer[]> {
  const out = new Map<string, Consumer[]>();
  for (const node of graph.node)
    node.input.forEach((name, slot) => {
      if (!name) return;
      const list = out.get(name);
      if (list) list.push({ node, slot });
      else out.set(name, [{ node, slot }]);
    });
  return out;
}

export interface InitializerRoles {
  /** Trainable parameters in initializer order (the order of the `grad:` outputs). */
  params: ParamInfo[];
  /** Batch-norm running statistics, in initializer order. */
  buffers: { name: string; shape: number[]; init: Float32Array }[];
}

/** Input slots of normalisation ops that hold a learned scale and shift. */
const NORM_SLOTS: Record<string, readonly number[]> = { BatchNormalization: [1, 2], LayerNormalization: [1, 2], InstanceNormalization: [1, 2] };
/** Input slots that hold a bias added after a linear map. */
const BIAS_SLOTS: Record<string, readonly number[]> = { Gemm: [2], Conv: [2], ConvTranspose: [2] };

/**
 * Sorts the float initializers into parameters and buffers. A float initializer is a trainable
 * parameter unless `freeze` matches its name, it is a batch-norm running mean/var (a buffer), it
 * is a scalar (a constant such as an epsilon or a scale), or every op reading it reads it in a
 * slot no gradient flows into (a `nondiff` slot or an op without gradient). Everything else stays
 * an initializer.
 */
export function classifyInitializers(graph: GraphProto, freeze?: RegExp): InitializerRoles {
  const consumers = consumersOf(graph);
  const producer = new Map<string, NodeProto>();
  for (const n of graph.node) for (const o of n.output) if (o) producer.set(o, n);
  const frozen = freeze ? new RegExp(freeze.source, freeze.flags.replace(/[gy]/g, '')) : undefined; // no lastIndex state between tests

  const params: ParamInfo[] = [];
  const buffers: InitializerRoles['buffers'] = [];
  for (const t of graph.initializer) {
    if (t.dataType !== DT.FLOAT) continue;
    const uses = consumers.get(t.name) ?? [];
    if (uses.some((u) => u.node.opType === 'BatchNormalization' && (u.slot === 3 || u.slot === 4))) {
      buffers.push({ name: t.name, shape: [...t.dims], init: toFloat32(t) });
      continue;
    }
    if (t.dims.length === 0 || frozen?.test(t.name)) continue;
    const trainable = uses.filter((u) => {
      const rule = ruleFor(u.node);
      return rule.grad !== 'none' && !rule.nondiff?.includes(u.slot);
    });
    if (trainable.length === 0) continue;
    params.push({ name: t.name, shape: [...t.dims], init: toFloat32(t), grad: `grad:${t.name}`, kind: paramKind(t, trainable, producer) });
  }
  return { params, buffers };
}

function paramKind(t: TensorProto, uses: Consumer[], producer: Map<string, NodeProto>): ParamInfo['kind'] {
  if (uses.some((u) => NORM_SLOTS[u.node.opType]?.includes(u.slot))) return 'norm';
  if (t.dims.length !== 1) return 'weight';
  const isBias = uses.some((u) => {
    if (BIAS_SLOTS[u.node.opType]?.includes(u.slot)) return true;
    if (u.node.opType !== 'Add') return false;
    const other = u.node.input[1 - u.slot];
    return other !== undefined && producer.get(other)?.opType === 'MatMul';
  });
  return isBias ? 'bias' : 'weight';
}

/**
 * Turns the named initializers into graph inputs of the same name, type and shape (so a session
 * takes new values each step without being rebuilt), appended after the existing inputs.
 */
export function initializersToInputs(graph: GraphProto, names: readonly string[]): void {
  const wanted = new Set(names);
  const moved = new Map<string, ValueInfoProto>();
  graph.initializer = graph.initializer.filter((t) => {
    if (!wanted.has(t.name)) return true;
    moved.set(t.name, valueInfo(t.name, t.dataType, t.dims));
    return false;
  });
  for (const n of names) {
    const v = moved.get(n);
    if (!v) throw new CompileError(`'${n}' is not an initializer of the model`);
    graph.input.push(v);
  }
}

/** Every name used in the graph (tensors and nodes), so new names never collide with them. */
export function takenNames(graph: GraphProto): Set<string> {
  const names = new Set<string>();
  for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) names.add(v.name);
  for (const t of graph.initializer) names.add(t.name);
  for (const n of graph.node) {
    names.add(n.name);
    for (const o of n.output) names.add(o);
    for (const i of n.input) if (i) names.add(i);
  }
  return names;
}
