/**
 * Checks shape rules against onnxruntime: builds a small forward graph, runs our shape
 * inference on it, runs it in onnxruntime-node, and reports where the inferred element type,
 * dims or folded values disagree with the tensors onnxruntime actually produced.
 */
import * as ort from 'onnxruntime-node';
import { GraphProto } from '../../shared/proto/gen/onnx.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { encodeModel, makeModel, valueInfo, DEFAULT_OPSET } from '../../shared/onnx/model.js';
import { DT } from '../../shared/onnx/tensor.js';
import { isKnown, type Dim } from '../../shared/onnx/shapes.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import '../../shared/autodiff/rules/index.js';

export interface FedInput {
  name: string;
  /** Shape declared in the graph (symbols allowed). */
  declared: Dim[];
  /** Shape of the values fed at run time. */
  shape: number[];
  type: 'float' | 'int64';
  values: number[];
}

export interface InferCase {
  inputs: FedInput[];
  /** Builds the graph; returns the tensors whose inferred info is compared with onnxruntime's. */
  build(b: GraphBuilder, names: string[]): string[];
  opset?: number;
}

const ORT_TYPES: Record<string, number> = { float32: DT.FLOAT, float64: DT.DOUBLE, int64: DT.INT64, int32: DT.INT32, bool: DT.BOOL, uint8: DT.UINT8, int8: DT.INT8, string: DT.STRING };

/** Every disagreement between inferred info and the run (empty when all agree). */
export async function inferenceMismatches(c: InferCase): Promise<string[]> {
  const opset = c.opset ?? DEFAULT_OPSET;
  const b = new GraphBuilder(c.inputs.map((i) => i.name));
  const outs = c.build(b, c.inputs.map((i) => i.name));
  const graph = GraphProto.fromPartial({
    node: b.nodes,
    initializer: b.initializers,
    input: c.inputs.map((i) => valueInfo(i.name, i.type === 'float' ? DT.FLOAT : DT.INT64, i.declared)),
    output: [],
  });
  const facts = inferGraph(graph, opset);
  graph.output = outs.map((o) => valueInfo(o, facts.info.get(o)?.elemType ?? DT.FLOAT, undefined));
  const session = await ort.InferenceSession.create(encodeModel(makeModel(graph, opset)));
  const feeds: Record<string, ort.Tensor> = {};
  for (const i of c.inputs) feeds[i.name] = i.type === 'float' ? new ort.Tensor('float32', Float32Array.from(i.values), i.shape) : new ort.Tensor('int64', BigInt64Array.from(i.values.map(BigInt)), i.shape);
  const run = await session.run(feeds);
  const problems: string[] = [];
  for (const o of outs) {
    const got = run[o]!;
    const info = facts.info.get(o);
    if (!info) {
      problems.push(`${o}: no inferred info`);
      continue;
    }
    if (ORT_TYPES[got.type] !== info.elemType) problems.push(`${o}: inferred type ${DT[info.elemType]}, onnxruntime gave ${got.type}`);
    const dims = [...got.dims];
    if (!info.shape) problems.push(`${o}: inferred no rank, onnxruntime gave [${dims}]`);
    else if (info.shape.length !== dims.length || info.shape.some((d, k) => isKnown(d) && d !== dims[k])) problems.push(`${o}: inferred [${info.shape}], onnxruntime gave [${dims}]`);
    const folded = info.value ?? facts.constants.get(o);
    if (folded) {
      const data = Array.from(got.data as ArrayLike<number | bigint>, Number);
      if (folded.length !== data.length || folded.some((v, k) => Math.abs(v - data[k]!) > 1e-6)) problems.push(`${o}: folded [${folded}], onnxruntime gave [${data}]`);
    }
    if (info.dimValues) {
      const data = Array.from(got.data as ArrayLike<number | bigint>, Number);
      if (info.dimValues.length !== data.length || info.dimValues.some((v, k) => isKnown(v) && v !== data[k])) problems.push(`${o}: folded dims [${info.dimValues}], onnxruntime gave [${data}]`);
    }
  }
  await session.release();
  return problems;
}
