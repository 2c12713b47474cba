/**
 * The reverse walk: from a scalar loss back to the requested tensors.
 * Nodes between a requested tensor and the loss are visited in reverse topological order; each
 * node's rule turns the gradients of its outputs into gradients of its inputs, and a tensor used
 * by several nodes gets the sum of their contributions (fan-in summed with Add/Sum).
 */
import type { GraphProto, NodeProto } from '../proto/gen/onnx.js';
import type { GraphBuilder } from '../onnx/builder.js';
import { DT, float32Tensor } from '../onnx/tensor.js';
import { formatShape } from '../onnx/shapes.js';
import { ruleFor, type GradContext } from './registry.js';
import { topoSort, type GraphFacts } from './infer.js';
import { CompileError, GradientError } from './errors.js';

export interface BackwardRequest {
  graph: GraphProto;
  facts: GraphFacts;
  opset: number;
  /** Name of the scalar loss tensor. */
  loss: string;
  /** Tensors to differentiate with respect to (parameters, optionally graph inputs). */
  wrt: readonly string[];
  /** Emits the backward nodes; must already know every forward name. */
  b: GraphBuilder;
}

/** Returns, for each name in `wrt`, the tensor holding d(loss)/d(name), same shape as the tensor. */
export function backward(req: BackwardRequest): Map<string, string> {
  const { graph, facts, b, loss, opset } = req;
  const order = topoSort(graph);
  const producer = new Map<string, NodeProto>();
  for (const n of order) for (const o of n.output) if (o) producer.set(o, n);
  if (!facts.info.has(loss)) throw new CompileError(`loss tensor '${loss}' is not in the graph`);

  // Forward-reachable from the requested tensors through differentiable input slots only: the
  // outputs of Shape/ArgMax/... and shape arguments are constants as far as gradients go.
  const fromWrt = new Set<string>(req.wrt);
  const blocked: { node: NodeProto; slot: number }[] = [];
  for (const n of order) {
    const rule = ruleFor(n);
    let reached = false;
    n.input.forEach((x, slot) => {
      if (!x || !fromWrt.has(x)) return;
      if (rule.grad === 'none' || rule.nondiff?.includes(slot)) blocked.push({ node: n, slot });
      else reached = true;
    });
    if (reached) for (const o of n.output) if (o) fromWrt.add(o);
  }
  // Backward-reachable from the loss.
  const toLoss = new Set<string>([loss]);
  for (let k = order.length - 1; k >= 0; k--) {
    const n = order[k]!;
    if (n.output.some((o) => o && toLoss.has(o))) for (const i of n.input) if (i) toLoss.add(i);
  }
  const active = (name: string): boolean => !!name && fromWrt.has(name) && toLoss.has(name);
  // A parameter reaching a slot that takes no gradient (Pow's exponent, Clip's bounds) would have
  // its gradient silently dropped: refuse. Shape-like ops (grad 'none') legitimately stop it.
  for (const { node, slot } of blocked) {
    const x = node.input[slot]!;
    const rule = ruleFor(node);
    const info = facts.info.get(x);
    const isFloat = info !== undefined && (info.elemType === DT.FLOAT || info.elemType === DT.DOUBLE || info.elemType === DT.FLOAT16);
    if (rule.grad !== 'none' && isFloat && toLoss.has(x) && node.output.some((o) => toLoss.has(o)))
      throw new GradientError(node.opType, node.name, `input ${slot} ('${x}') depends on a trainable tensor but this op gives that input no gradient`);
  }

  const contributions = new Map<string, string[]>();
  const push = (name: string, g: string): void => {
    const list = contributions.get(name);
    if (list) list.push(g);
    else contributions.set(name, [g]);
  };
  const total = (name: string): string | undefined => {
    const list = contributions.get(name);
    if (!list || list.length === 0) return undefined;
    if (list.length > 1) {
      const summed = b.op(list.length === 2 ? 'Add' : 'Sum', list, {}, `grad_acc_${safe(name)}`);
      contributions.set(name, [summed]);
    }
    return contributions.get(name)![0]!;
  };

  const lossInfo = facts.info.get(loss)!;
  if (lossInfo.shape && lossInfo.shape.some((d) => d !== 1)) throw new CompileError(`loss '${loss}' must be a scalar, its shape is ${formatShape(lossInfo.shape)}`);
  push(loss, lossInfo.shape ? b.floats([1], lossInfo.shape as number[]) : b.op('ConstantOfShape', [b.op('Shape', [loss])], { value: oneTensor() }));

  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k]!;
    if (!node.output.some(active)) continue;
    const dys = node.output.map((o) => (active(o) ? total(o) : undefined));
    if (dys.every((d) => d === undefined)) continue;
    const rule = ruleFor(node);
    if (rule.grad === 'none') continue;
    const ctx: GradContext = {
      node,
      b,
      opset,
      x: (i) => node.input[i] ?? '',
      y: (i) => node.output[i] ?? '',
      dy: (i) => dys[i],
      needs: (i) => active(node.input[i] ?? '') && !rule.nondiff?.includes(i),
      info: (name) => {
        const i = facts.info.get(name);
        if (!i) throw new GradientError(node.opType, node.name, `no shape information for '${name}'`);
        return i;
      },
      constant: (name) => facts.constants.get(name),
    };
    const dxs = rule.grad(ctx);
    node.input.forEach((x, i) => {
      if (!active(x) || rule.nondiff?.includes(i)) return;
      const dx = dxs[i];
      if (dx === undefined) {
        const info = facts.info.get(x);
        if (info && (info.elemType === DT.FLOAT || info.elemType === DT.DOUBLE || info.elemType === DT.FLOAT16))
          throw new GradientError(node.opType, node.name, `input ${i} ('${x}') lies between a parameter and the loss but the rule gives it no gradient`);
        return;
      }
      push(x, dx);
    });
  }

  const out = new Map<string, string>();
  for (const w of req.wrt) {
    const g = total(w);
    // A tensor the loss does not depend on has a zero gradient of its own shape.
    out.set(w, g ?? b.op('ConstantOfShape', [b.op('Shape', [w])], { value: zeroTensor() }, `grad_zero_${safe(w)}`));
  }
  return out;
}

function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}


function oneTensor() {
  return float32Tensor('one', [1], [1]);
}
function zeroTensor() {
  return float32Tensor('zero', [1], [0]);
}
