/**
 * Runs the backward graph of one op whose inputs may declare a symbolic batch dim ('N'), so a test
 * can compare it with the same op declared with static shapes. gradcheck.ts covers the numerics of
 * the static graphs; this covers the code paths a rule takes when only the batch dim is unknown.
 */
import * as ort from 'onnxruntime-node';
import { GraphProto } from '../../shared/proto/gen/onnx.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { encodeModel, makeModel, valueInfo } from '../../shared/onnx/model.js';
import { DT, float32Tensor } from '../../shared/onnx/tensor.js';
import type { Shape } from '../../shared/onnx/shapes.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import { backward } from '../../shared/autodiff/backward.js';
import { Rng } from '../../shared/random.js';
import '../../shared/autodiff/rules/index.js';

/**
 * Gradients of loss = Σ(op(inputs) · R) for every input, each input declared with `shapes[name]`
 * and fed at that shape with every symbolic dim set to `batch`. Values and R come from a fixed
 * seed, so two calls that differ only in declared shapes see the same numbers.
 */
export async function gradientsWithBatch(op: string, shapes: Record<string, Shape>, batch: number, attrs: Record<string, number | number[] | string>, opset = 17): Promise<Record<string, Float32Array>> {
  const rng = Rng.seeded(11);
  const names = Object.keys(shapes);
  const concrete = (s: Shape) => s.map((d) => (typeof d === 'number' ? d : batch));
  const b = new GraphBuilder(names);
  const feeds: Record<string, ort.Tensor> = {};
  for (const n of names) {
    const dims = concrete(shapes[n]!);
    feeds[n] = new ort.Tensor('float32', rng.floats(dims.reduce((a, d) => a * d, 1)), dims);
  }
  const y = b.op(op, names, attrs);
  const inputs = names.map((n) => valueInfo(n, DT.FLOAT, shapes[n]!));
  const yShape = inferGraph(GraphProto.fromPartial({ node: [...b.nodes], initializer: [...b.initializers], input: inputs }), opset).info.get(y)!.shape!;
  const rDims = concrete(yShape);
  const r = b.initializer(float32Tensor(b.fresh('R'), rDims, rng.floats(rDims.reduce((a, d) => a * d, 1))));
  const loss = b.op('ReduceSum', [b.op('Mul', [y, r])], { keepdims: 0 }, 'loss');
  const graph = GraphProto.fromPartial({ node: [...b.nodes], initializer: [...b.initializers], input: inputs });
  const grads = backward({ graph, facts: inferGraph(graph, opset), opset, loss, wrt: names, b });
  graph.node = [...b.nodes];
  graph.initializer = [...b.initializers];
  graph.output = names.map((n) => valueInfo(grads.get(n)!, DT.FLOAT, undefined));
  const session = await ort.InferenceSession.create(encodeModel(makeModel(graph, opset)));
  const out = await session.run(feeds);
  return Object.fromEntries(names.map((n) => [n, out[grads.get(n)!]!.data as Float32Array]));
}
