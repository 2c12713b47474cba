import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { buildForwardModel } from '../../shared/model/build.js';
import { defaultModelSpec } from '../../shared/model/defaults.js';
import { attrInt, attrFloat } from '../../shared/onnx/attributes.js';
import { opsetOf } from '../../shared/onnx/model.js';
import { Rng } from '../../shared/random.js';
import type { ModelSpecInput } from '../../shared/model/spec.js';
import { initializer, runModel } from './helpers.js';

const floats = (n: number, seed = 11) => Rng.seeded(seed).floats(n, -1, 1);
const feed = (name: string, data: Float32Array, dims: number[]) => ({ [name]: new ort.Tensor('float32', data, dims) });

/** y[n, o] = Σ_i x[n, i]·W[o, i] + b[o]  (W stored [out, in], as PyTorch). */
function dense(x: Float32Array, n: number, W: Float32Array, b: Float32Array | undefined, out: number, inF: number, transposed = false): Float64Array {
  const y = new Float64Array(n * out);
  for (let r = 0; r < n; r++)
    for (let o = 0; o < out; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i]! * (transposed ? W[i * out + o]! : W[o * inF + i]!);
      y[r * out + o] = s;
    }
  return y;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / (1 + Math.abs(expected[i]!)));
  expect(worst).toBeLessThan(tol);
}

describe('buildForwardModel: forward graphs run in onnxruntime-node', () => {
  it('MLP (the embedded default): opset 17, input [N,784], output logits [N,10], Gemm transB=1 with [out,in] weights', async () => {
    const fm = buildForwardModel(defaultModelSpec(1));
    const g = fm.model.graph!;
    expect(opsetOf(fm.model)).toBe(17);
    expect(fm.input).toEqual({ name: 'x', elemType: 1, shape: ['N', 784] });
    expect(g.output.map((o) => o.name)).toEqual(['logits']);
    expect(fm.heads).toEqual([{ name: 'out', logits: 'logits', labels: 'labels', loss: 'cross-entropy', weight: 1 }]);
    expect(fm.outputShapes).toEqual({ out: ['N', 10] });
    expect(g.node.map((n) => n.opType)).toEqual(['Gemm', 'Relu', 'Constant', 'Dropout', 'Gemm', 'Relu', 'Gemm']);
    for (const n of g.node.filter((n) => n.opType === 'Gemm')) expect(attrInt(n, 'transB')).toBe(1);
    // Inference-form dropout: a constant ratio, no training_mode input.
    const drop = g.node.find((n) => n.opType === 'Dropout')!;
    expect(drop.input).toHaveLength(2);
    // Every initializer is a parameter; constants are Constant nodes.
    expect(g.initializer.map((t) => t.name)).toEqual(fm.params.map((p) => p.name));
    expect(fm.params.map((p) => `${p.name}:${p.kind}:${p.shape}`)).toEqual(['fc1.weight:weight:256,784', 'fc1.bias:bias:256', 'fc2.weight:weight:128,256', 'fc2.bias:bias:128', 'fc3.weight:weight:10,128', 'fc3.bias:bias:10']);

    const x = floats(3 * 784);
    const out = await runModel(fm.model, feed('x', x, [3, 784]));
    expect(out.logits!.dims).toEqual([3, 10]);
    const m = fm.model;
    const relu = (a: Float64Array) => Float32Array.from(a, (v) => Math.max(v, 0));
    const h1 = relu(dense(x, 3, initializer(m, 'fc1.weight'), initializer(m, 'fc1.bias'), 256, 784));
    const h2 = relu(dense(h1, 3, initializer(m, 'fc2.weight'), initializer(m, 'fc2.bias'), 128, 256));
    expectClose(out.logits!.data as Float32Array, dense(h2, 3, initializer(m, 'fc3.weight'), initializer(m, 'fc3.bias'), 10, 128), 1e-4);
  });

  it('CNN with batch norm, pooling and dropout: shapes follow the conv arithmetic', async () => {
    const spec: ModelSpecInput = {
      input: { shape: [1, 28, 28] },
      layers: [
        { type: 'conv2d', name: 'c1', filters: 8, kernel: 3, padding: 'same' },
        { type: 'batch_norm', name: 'bn1', eps: 1e-3 },
        { type: 'relu' },
        { type: 'maxpool2d', kernel: 2 },
        { type: 'conv2d', name: 'c2', filters: 16, kernel: [3, 5], stride: 2, padding: [1, 2], groups: 2, bias: false },
        { type: 'leaky_relu', alpha: 0.1 },
        { type: 'avgpool2d', kernel: 3, stride: 1, padding: 1 },
        { type: 'dropout', p: 0.3 },
        { type: 'conv2d', name: 'c3', filters: 6, kernel: 3, dilation: 2, activation: 'gelu' },
        { type: 'global_avg_pool' },
        { type: 'batch_norm', name: 'bn2' },
        { type: 'dense', name: 'fc', units: 10 },
      ],
      seed: 2,
    };
    const fm = buildForwardModel(spec);
    const g = fm.model.graph!;
    const conv2 = g.node.find((n) => n.name.startsWith('c2'))!;
    expect(attrInt(conv2, 'group')).toBe(2);
    expect(conv2.input).toHaveLength(2); // bias: false
    expect(fm.params.find((p) => p.name === 'c2.weight')!.shape).toEqual([16, 4, 3, 5]);
    expect(fm.params.filter((p) => p.name.startsWith('bn1')).map((p) => p.kind)).toEqual(['norm', 'norm', 'buffer', 'buffer']);
    const bn = g.node.find((n) => n.opType === 'BatchNormalization')!;
    expect(bn.input).toEqual(['c1', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var']);
    expect(attrFloat(bn, 'epsilon', 0)).toBeCloseTo(1e-3, 8);
    expect(attrFloat(bn, 'momentum', 0)).toBeCloseTo(0.9, 6);

    const out = await runModel(fm.model, feed('x', floats(2 * 784), [2, 1, 28, 28]));
    expect(out.logits!.dims).toEqual([2, 10]);
    expect([...(out.logits!.data as Float32Array)].every(Number.isFinite)).toBe(true);
  });

  it('gelu is x·0.5·(1+erf(x/√2)) built from Erf (opset 17 has no Gelu)', async () => {
    const fm = buildForwardModel({ input: { shape: [7] }, layers: [{ type: 'gelu' }], loss: 'mse', seed: 0 });
    expect(fm.model.graph!.node.map((n) => n.opType).filter((t) => t !== 'Constant')).toEqual(['Div', 'Erf', 'Add', 'Mul', 'Mul']);
    const x = Float32Array.from([-3, -1.5, -0.5, 0, 0.25, 1, 2.5]);
    const out = await runModel(fm.model, feed('x', x, [1, 7]));
    // erf via Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
    const erf = (v: number) => {
      const t = 1 / (1 + 0.3275911 * Math.abs(v));
      const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-v * v);
      return Math.sign(v) * y;
    };
    expectClose(out.logits!.data as Float32Array, Array.from(x, (v) => v * 0.5 * (1 + erf(v / Math.SQRT2))), 1e-6);
  });

  it('embedding: Gather on int64 token ids gives the weight rows', async () => {
    const fm = buildForwardModel({
      input: { shape: [5], type: 'int64' },
      layers: [{ type: 'embedding', name: 'emb', vocab: 20, dim: 4 }, { type: 'flatten', name: 'seq' }],
      heads: [
        { name: 'tokens', from: 'seq', loss: 'mse' },
        { name: 'cls', from: 'seq', layers: [{ type: 'dense', units: 3 }] },
      ],
      seed: 3,
    });
    expect(fm.input).toEqual({ name: 'x', elemType: 7, shape: ['N', 5] });
    const ids = BigInt64Array.from([0n, 19n, 3n, 3n, 7n, 1n, 2n, 4n, 8n, 16n]);
    const out = await runModel(fm.model, { x: new ort.Tensor('int64', ids, [2, 5]) });
    expect(out['logits:tokens']!.dims).toEqual([2, 20]);
    expect(out['logits:cls']!.dims).toEqual([2, 3]);
    const W = initializer(fm.model, 'emb.weight');
    const rows = Array.from(ids).flatMap((id) => Array.from(W.subarray(Number(id) * 4, Number(id) * 4 + 4)));
    expect(Array.from(out['logits:tokens']!.data as Float32Array)).toEqual(rows);
  });

  it('tied autoencoder: the decoder reads the encoder weight transposed (one initializer, two uses)', async () => {
    const fm = buildForwardModel({
      input: { shape: [12] },
      layers: [
        { type: 'dense', name: 'enc1', units: 5, activation: 'relu' },
        { type: 'dense', name: 'dec1', share: 'enc1', transpose: true },
      ],
      loss: 'mse',
      seed: 4,
    });
    const g = fm.model.graph!;
    expect(fm.params.map((p) => p.name)).toEqual(['enc1.weight', 'enc1.bias', 'dec1.bias']);
    const gemms = g.node.filter((n) => n.opType === 'Gemm');
    expect(gemms.map((n) => n.input[1])).toEqual(['enc1.weight', 'enc1.weight']);
    expect(gemms.map((n) => attrInt(n, 'transB'))).toEqual([1, 0]);
    expect(fm.outputShapes).toEqual({ out: ['N', 12] });

    const x = floats(4 * 12);
    const out = await runModel(fm.model, feed('x', x, [4, 12]));
    const W = initializer(fm.model, 'enc1.weight');
    const h = Float32Array.from(dense(x, 4, W, initializer(fm.model, 'enc1.bias'), 5, 12), (v) => Math.max(v, 0));
    expectClose(out.logits!.data as Float32Array, dense(h, 4, W, initializer(fm.model, 'dec1.bias'), 12, 5, true), 1e-5);
  });

  it('two heads: one output and one HeadSpec each, with per-head labels, weights and options', async () => {
    const fm = buildForwardModel({
      input: { shape: [1, 8, 8] },
      layers: [{ type: 'flatten' }, { type: 'dense', name: 'feat', units: 16, activation: 'relu' }],
      heads: [
        { name: 'digit', layers: [{ type: 'dense', units: 10 }], label_smoothing: 0.1, class_weights: [1, 1, 1, 1, 1, 1, 1, 1, 1, 2] },
        { name: 'odd', from: 'feat', layers: [{ type: 'dense', units: 1 }], loss: 'bce', weight: 0.5, labels: 'is_odd' },
      ],
      seed: 5,
    });
    expect(fm.heads).toEqual([
      { name: 'digit', logits: 'logits:digit', labels: 'labels:digit', loss: 'cross-entropy', weight: 1, labelSmoothing: 0.1, classWeights: [1, 1, 1, 1, 1, 1, 1, 1, 1, 2] },
      { name: 'odd', logits: 'logits:odd', labels: 'is_odd', loss: 'bce', weight: 0.5 },
    ]);
    expect(fm.params.map((p) => p.name)).toEqual(['feat.weight', 'feat.bias', 'digit_dense_0.weight', 'digit_dense_0.bias', 'odd_dense_0.weight', 'odd_dense_0.bias']);
    const out = await runModel(fm.model, feed('x', floats(3 * 64), [3, 1, 8, 8]));
    expect(out['logits:digit']!.dims).toEqual([3, 10]);
    expect(out['logits:odd']!.dims).toEqual([3, 1]);
  });

  it('a head with no layers of its own gets an Identity onto the shared trunk tensor', async () => {
    const fm = buildForwardModel({
      input: { shape: [6] },
      layers: [{ type: 'dense', name: 'z', units: 4 }],
      heads: [
        { name: 'raw', loss: 'mse' },
        { name: 'cls', layers: [{ type: 'tanh' }, { type: 'dense', units: 3 }] },
      ],
      seed: 6,
    });
    const g = fm.model.graph!;
    expect(g.node.find((n) => n.opType === 'Identity')!.output).toEqual(['logits:raw']);
    const out = await runModel(fm.model, feed('x', floats(12), [2, 6]));
    expect(out['logits:raw']!.dims).toEqual([2, 4]);
    expect(out['logits:cls']!.dims).toEqual([2, 3]);
  });

  it('reshape keeps the batch dimension and resolves -1', async () => {
    const fm = buildForwardModel({ input: { shape: [784] }, layers: [{ type: 'reshape', shape: [1, 28, -1] }, { type: 'conv2d', filters: 2, kernel: 28 }, { type: 'flatten' }], loss: 'mse', seed: 7 });
    const out = await runModel(fm.model, feed('x', floats(5 * 784), [5, 784]));
    expect(out.logits!.dims).toEqual([5, 2]);
  });
});
