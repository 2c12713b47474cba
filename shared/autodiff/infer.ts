/**
 * Static shape inference over a graph, driven by the registry's shape rules. Gradient rules read
 * its results to choose static code; unknown dims stay symbolic and rules fall back to runtime
 * Shape ops for them.
 */
import type { GraphProto, NodeProto, TensorProto } from '../proto/gen/onnx.js';
import { describeValueInfo } from '../onnx/model.js';
import type { TensorInfo } from '../onnx/shapes.js';
import { toNumbers } from '../onnx/tensor.js';
import { attrTensor } from '../onnx/attributes.js';
import { OnnxShapeError } from '../onnx/errors.js';
import { ruleFor } from './registry.js';

export interface GraphFacts {
  readonly info: Map<string, TensorInfo>;
  /** Values of tensors known at compile time (initializers and Constant outputs, small ones). */
  readonly constants: Map<string, number[]>;
  readonly initializers: Map<string, TensorProto>;
}

const MAX_CONST = 4096; // larger constants are weights, not shape arguments

/** Nodes in an order where each node comes after the producers of its inputs. */
export function topoSort(graph: GraphProto): NodeProto[] {
  const producer = new Map<string, NodeProto>();
  for (const n of graph.node) for (const o of n.output) if (o) producer.set(o, n);
  const done = new Set<NodeProto>();
  const visiting = new Set<NodeProto>();
  const order: NodeProto[] = [];
  const visit = (n: NodeProto): void => {
    if (done.has(n)) return;
    if (visiting.has(n)) throw new OnnxShapeError(n.name, n.opType, 'the graph has a cycle through this node');
    visiting.add(n);
    for (const i of n.input) {
      const p = i ? producer.get(i) : undefined;
      if (p) visit(p);
    }
    visiting.delete(n);
    done.add(n);
    order.push(n);
  };
  for (const n of graph.node) visit(n);
  return order;
}

export function inferGraph(graph: GraphProto, opset: number): GraphFacts {
  const info = new Map<string, TensorInfo>();
  const constants = new Map<string, number[]>();
  const initializers = new Map<string, TensorProto>();
  for (const t of graph.initializer) {
    initializers.set(t.name, t);
    info.set(t.name, { elemType: t.dataType, shape: [...t.dims] });
    if (t.dims.reduce((a, b) => a * b, 1) <= MAX_CONST) constants.set(t.name, toNumbers(t));
  }
  for (const v of graph.input) {
    if (initializers.has(v.name)) continue;
    const d = describeValueInfo(v);
    info.set(v.name, { elemType: d.elemType, shape: d.shape });
  }
  for (const node of topoSort(graph)) {
    if (node.opType === 'Constant' && (node.domain === '' || node.domain === 'ai.onnx')) {
      const t = attrTensor(node, 'value');
      if (t) {
        info.set(node.output[0]!, { elemType: t.dataType, shape: [...t.dims] });
        if (t.dims.reduce((a, b) => a * b, 1) <= MAX_CONST) constants.set(node.output[0]!, toNumbers(t));
        continue;
      }
    }
    const rule = ruleFor(node);
    const inputs = node.input.map((name) => {
      if (!name) return undefined;
      const i = info.get(name);
      if (!i) throw new OnnxShapeError(node.name, node.opType, `input '${name}' is produced by nothing in the graph`);
      return i;
    });
    let outs: TensorInfo[];
    try {
      outs = rule.infer({
        node,
        opset,
        input: (i) => inputs[i],
        constant: (i) => (node.input[i] ? constants.get(node.input[i]!) : undefined),
      });
    } catch (e) {
      if (e instanceof OnnxShapeError) throw e;
      throw new OnnxShapeError(node.name, node.opType, (e as Error).message);
    }
    node.output.forEach((o, k) => {
      const out = outs[k];
      if (!o || !out) return;
      info.set(o, out);
      if (out.value) constants.set(o, out.value);
    });
  }
  return { info, constants, initializers };
}
