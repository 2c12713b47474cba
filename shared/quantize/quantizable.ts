/**
 * Which nodes of an inference model post-training quantization rewrites: Gemm, MatMul and Conv
 * whose weight is an initializer. For each, the weight's output-channel axis (per-channel
 * scales) and the activation input (per-tensor scale from calibration).
 */
import type { GraphProto, NodeProto } from '../proto/gen/onnx.js';

export interface QuantizableNode {
  node: NodeProto;
  /** The activation input (input 0). */
  activation: string;
  /** The weight initializer (input 1). */
  weight: string;
  /** Axis of the weight's output channels. */
  axis: number;
}

export function quantizableNodes(graph: GraphProto): QuantizableNode[] {
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const out: QuantizableNode[] = [];
  for (const node of graph.node) {
    if (node.domain && node.domain !== 'ai.onnx') continue;
    const [activation, weight] = node.input;
    const w = weight ? inits.get(weight) : undefined;
    if (!activation || !w || w.dataType !== 1) continue;
    if (node.opType === 'Gemm') {
      const transB = node.attribute.find((a) => a.name === 'transB')?.i ?? 0;
      out.push({ node, activation, weight: weight!, axis: Number(transB) === 1 ? 0 : 1 });
    } else if (node.opType === 'MatMul' && w.dims.length === 2) {
      out.push({ node, activation, weight: weight!, axis: 1 });
    } else if (node.opType === 'Conv') {
      out.push({ node, activation, weight: weight!, axis: 0 });
    }
  }
  return out;
}
