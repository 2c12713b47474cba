/**
 * Forward models and runners shared by the compiler, export and CLI tests: small models built
 * with GraphBuilder (the way a PyTorch export looks: Gemm with transB, MatMul + Add), and helpers
 * that feed a compiled graph its documented inputs.
 */
import * as ort from 'onnxruntime-node';
import { GraphProto, type ModelProto } from '../../shared/proto/gen/onnx.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { encodeModel, makeModel, valueInfo } from '../../shared/onnx/model.js';
import { DT, float32Tensor } from '../../shared/onnx/tensor.js';
import type { Shape } from '../../shared/onnx/shapes.js';
import type { TensorSpec, TrainingGraph } from '../../shared/autodiff/compile-types.js';
import { Rng } from '../../shared/random.js';

export interface ForwardFixture {
  model: ModelProto;
  /** Initializer values by name, as put into the model. */
  values: Map<string, Float32Array>;
}

/** Builds a forward model from a GraphBuilder callback; initializers get seeded values in [-1, 1]. */
export function forwardModel(opts: {
  inputs: { name: string; shape: Shape; elemType?: number }[];
  outputs: { name: string; shape: Shape }[];
  params: { name: string; shape: number[]; values?: number[] }[];
  build: (b: GraphBuilder) => void;
  opset?: number;
  seed?: number;
}): ForwardFixture {
  const rng = Rng.seeded(opts.seed ?? 3);
  const b = new GraphBuilder([...opts.inputs.map((i) => i.name), ...opts.params.map((p) => p.name), ...opts.outputs.map((o) => o.name)]);
  const values = new Map<string, Float32Array>();
  for (const p of opts.params) {
    const n = p.shape.reduce((a, d) => a * d, 1);
    const v = p.values ? Float32Array.from(p.values) : rng.floats(n, -1, 1);
    values.set(p.name, v);
    b.initializer(float32Tensor(p.name, p.shape, v));
  }
  opts.build(b);
  const graph = GraphProto.fromPartial({
    name: 'fixture',
    node: [...b.nodes],
    initializer: [...b.initializers],
    input: opts.inputs.map((i) => valueInfo(i.name, i.elemType ?? DT.FLOAT, i.shape)),
    output: opts.outputs.map((o) => valueInfo(o.name, DT.FLOAT, o.shape)),
  });
  return { model: makeModel(graph, opts.opset ?? 17), values };
}

/**
 * x [N, 4] → Gemm(W1 [8, 4], transB) + b1 → Relu → MatMul(W2 [8, 3]) + b2 → logits [N, 3]:
 * the two ways PyTorch exports a Linear layer.
 */
export function mlp(opset = 17): ForwardFixture {
  return forwardModel({
    opset,
    inputs: [{ name: 'x', shape: ['batch', 4] }],
    outputs: [{ name: 'logits', shape: ['batch', 3] }],
    params: [
      { name: 'fc1.weight', shape: [8, 4] },
      { name: 'fc1.bias', shape: [8] },
      { name: 'fc2.weight', shape: [8, 3] },
      { name: 'fc2.bias', shape: [3] },
    ],
    build: (b) => {
      const h = b.op('Gemm', ['x', 'fc1.weight', 'fc1.bias'], { transB: 1 }, 'fc1');
      const r = b.op('Relu', [h], {}, 'relu1');
      b.add('Add', [b.op('MatMul', [r, 'fc2.weight'], {}, 'fc2'), 'fc2.bias'], {}, ['logits']);
    },
  });
}

/**
 * x [N, 4] → Gemm → BatchNormalization → Tanh → Dropout(0.25) → Gemm → logits [N, 3], as a
 * PyTorch eval-mode-style export would have it (BN with one output, Dropout without training_mode).
 */
export function bnDropoutModel(): ForwardFixture {
  return forwardModel({
    inputs: [{ name: 'x', shape: ['N', 4] }],
    outputs: [{ name: 'logits', shape: ['N', 3] }],
    params: [
      { name: 'fc1.weight', shape: [6, 4] },
      { name: 'fc1.bias', shape: [6] },
      { name: 'bn.weight', shape: [6] },
      { name: 'bn.bias', shape: [6] },
      { name: 'bn.running_mean', shape: [6], values: [0.1, -0.2, 0.3, 0, 0.5, -0.1] },
      { name: 'bn.running_var', shape: [6], values: [1, 0.5, 2, 1.5, 0.8, 1.2] },
      { name: 'fc2.weight', shape: [3, 6] },
      { name: 'fc2.bias', shape: [3] },
    ],
    build: (b) => {
      const h = b.op('Gemm', ['x', 'fc1.weight', 'fc1.bias'], { transB: 1 }, 'h');
      const n = b.add('BatchNormalization', [h, 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var'], { epsilon: { float: 1e-5 }, momentum: { float: 0.9 } }, ['normed'], 'bn')[0]!;
      const t = b.op('Tanh', [n]);
      b.add('Constant', [], { value: float32Tensor('', [], [0.25]) }, ['ratio']);
      const d = b.add('Dropout', [t, 'ratio'], {}, ['dropped'], 'drop')[0]!;
      b.add('Gemm', [d, 'fc2.weight', 'fc2.bias'], { transB: 1 }, ['logits']);
    },
  });
}

/** Seeded float values for a tensor spec at batch size `n`. */
export function floats(spec: { shape: Shape }, n: number, seed: number, lo = -1, hi = 1): { data: Float32Array; dims: number[] } {
  const dims = spec.shape.map((d) => (typeof d === 'number' ? d : n));
  return { data: Rng.seeded(seed).floats(dims.reduce((a, d) => a * d, 1), lo, hi), dims };
}

export function floatTensor(v: { data: Float32Array; dims: number[] }): ort.Tensor {
  return new ort.Tensor('float32', v.data, v.dims);
}

export function labelTensor(spec: TensorSpec, values: number[]): ort.Tensor {
  const dims = spec.shape.map((d) => (typeof d === 'number' ? d : values.length));
  return spec.elemType === DT.INT64 ? new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims) : new ort.Tensor('float32', Float32Array.from(values), dims);
}

export async function session(model: ModelProto): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encodeModel(model));
}

/** Feeds of every param and buffer of a training graph at `overrides` or their initial values. */
export function weightFeeds(g: TrainingGraph, overrides: Map<string, Float32Array> = new Map()): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  // Copies: a test must not depend on whether a run writes into what it was fed.
  for (const p of g.params) feeds[p.name] = new ort.Tensor('float32', Float32Array.from(overrides.get(p.name) ?? p.init), p.shape);
  for (const buf of g.buffers) feeds[buf.name] = new ort.Tensor('float32', Float32Array.from(overrides.get(buf.name) ?? buf.init), buf.shape);
  return feeds;
}

export function scalarOf(t: ort.Tensor | undefined): number {
  if (!t) throw new Error('missing output');
  return Number((t.data as ArrayLike<number | bigint>)[0]);
}
