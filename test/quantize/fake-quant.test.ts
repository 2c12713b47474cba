import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { GraphProto, type ModelProto } from '../../shared/proto/gen/onnx.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { encodeModel, makeModel, valueInfo } from '../../shared/onnx/model.js';
import { DT, float32Tensor, toFloat32 } from '../../shared/onnx/tensor.js';
import { FAKE_QUANT_PREFIX, hasFakeQuant, withFakeQuant, withoutFakeQuant } from '../../shared/quantize/fake-quant.js';
import { activationParams, quantizePerChannel } from '../../shared/quantize/scales.js';
import { toInt8 } from '../../shared/quantize/rewrite.js';
import { buildForwardModel } from '../../shared/model/build.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import { compileEval } from '../../shared/autodiff/eval.js';
import { exportInference } from '../../shared/autodiff/export.js';
import type { TrainingGraph } from '../../shared/autodiff/compile-types.js';
import type { ModelSpecInput } from '../../shared/model/spec.js';
import { Rng } from '../../shared/random.js';

interface Reference {
  torch: string;
  weights: { name: 'gemm_transB' | 'gemm' | 'matmul' | 'conv'; dims: number[]; axis: number; w: number[]; scale: number[]; fake_quantized: number[] }[];
  activations: { name: string; dims: number[]; x: number[]; scale: number; zero_point: number; fake_quantized: number[] }[];
  mlp: { x: number[]; x_dims: number[]; labels: number[]; params: Record<string, { dims: number[]; values: number[] }>; logits: number[]; loss: number; grads: Record<string, number[]> };
}

/** torch 1.13's fake_quantize_per_channel_affine / per_tensor_affine on fixed inputs (make_reference.py). */
const ref = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/qat/reference.json', import.meta.url)), 'utf8')) as Reference;

const f32 = (a: readonly number[]) => Float32Array.from(a);

/** A forward model with one quantizable node reading input `x` and the weight `W`. */
function oneNode(kind: Reference['weights'][number]['name'], w: Float32Array, wDims: number[]): ModelProto {
  const b = new GraphBuilder(['x', 'W', 'y']);
  b.initializer(float32Tensor('W', wDims, w));
  let xShape: (number | string)[];
  if (kind === 'conv') {
    xShape = ['N', wDims[1]!, 5, 5];
    b.add('Conv', ['x', 'W'], { kernel_shape: [wDims[2]!, wDims[3]!] }, ['y']);
  } else if (kind === 'gemm_transB') {
    xShape = ['N', wDims[1]!];
    b.add('Gemm', ['x', 'W'], { transB: 1 }, ['y']);
  } else {
    xShape = ['N', wDims[0]!];
    b.add(kind === 'gemm' ? 'Gemm' : 'MatMul', ['x', 'W'], {}, ['y']);
  }
  const graph = GraphProto.fromPartial({ name: kind, node: b.nodes, initializer: b.initializers, input: [valueInfo('x', DT.FLOAT, xShape)], output: [valueInfo('y', DT.FLOAT, undefined)] });
  return makeModel(graph, 17);
}

/** The fake-quantization tensors withFakeQuant made for `tensor`: the node's new input, and the scale (and zero point). */
function fakeQuantOf(model: ModelProto, tensor: string): { dequantized: string; scale: string; zeroPoint: string } {
  const nodes = model.graph!.node;
  const q = nodes.find((n) => (n.opType === 'QuantizeLinear' || n.opType === 'DynamicQuantizeLinear') && n.input[0] === tensor);
  if (!q) throw new Error(`no fake quantization of '${tensor}'`);
  const dq = nodes.find((n) => n.opType === 'DequantizeLinear' && n.input[0] === q.output[0])!;
  return { dequantized: dq.output[0]!, scale: dq.input[1]!, zeroPoint: dq.input[2]! };
}

/** Runs `model` with the given tensors added as outputs (float, or [name, element type]). */
async function runWith(model: ModelProto, feeds: Record<string, ort.Tensor>, extra: (string | [string, number])[]): Promise<Record<string, ort.Tensor>> {
  const m = structuredClone(model);
  for (const e of extra) m.graph!.output.push(typeof e === 'string' ? valueInfo(e, DT.FLOAT, undefined) : valueInfo(e[0], e[1], undefined));
  const session = await ort.InferenceSession.create(encodeModel(m));
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

type Step = (feeds: Record<string, ort.Tensor>, params: Map<string, Float32Array>) => Promise<{ loss: number; grads: Map<string, Float32Array>; out: Record<string, ort.Tensor> }>;

/** One onnxruntime session for a training graph; each call runs a step at the given parameters (initial values for the rest). */
async function stepper(g: TrainingGraph): Promise<Step> {
  const session = await ort.InferenceSession.create(encodeModel(g.model));
  return async (feeds, params) => {
    const all: Record<string, ort.Tensor> = { ...feeds };
    for (const p of g.params) all[p.name] = new ort.Tensor('float32', Float32Array.from(params.get(p.name) ?? p.init), p.shape);
    for (const buf of g.buffers) all[buf.name] = new ort.Tensor('float32', Float32Array.from(buf.init), buf.shape);
    const out = await session.run(all);
    return { loss: out[g.outputs.loss]!.data[0] as number, grads: new Map(g.params.map((p) => [p.name, out[p.grad]!.data as Float32Array])), out };
  };
}

async function trainingStep(g: TrainingGraph, feeds: Record<string, ort.Tensor>, params: Map<string, Float32Array>): ReturnType<Step> {
  return (await stepper(g))(feeds, params);
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / (1 + Math.abs(expected[i]!)));
  expect(worst).toBeLessThan(tol);
}

const labelsTensor = (labels: number[]) => new ort.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [labels.length]);

describe('withFakeQuant: forward values are those of torch.fake_quantize_*', () => {
  for (const r of ref.weights) {
    it(`quantizes a ${r.name} weight ${JSON.stringify(r.dims)} per output channel (axis ${r.axis}), symmetric int8, as fake_quantize_per_channel_affine`, async () => {
      const w = f32(r.w);
      const qat = withFakeQuant(oneNode(r.name, w, r.dims), { weights: true, activations: false });
      const fq = fakeQuantOf(qat, 'W');
      const xDims = r.name === 'conv' ? [1, r.dims[1]!, 5, 5] : [1, r.name === 'gemm_transB' ? r.dims[1]! : r.dims[0]!];
      const out = await runWith(qat, { x: new ort.Tensor('float32', new Float32Array(xDims.reduce((a, d) => a * d, 1)), xDims) }, [fq.dequantized, fq.scale]);
      expect(out[fq.dequantized]!.data).toEqual(f32(r.fake_quantized));
      expect(out[fq.scale]!.data).toEqual(f32(r.scale));
    });
  }

  for (const r of ref.activations) {
    it(`quantizes a ${r.name} activation per tensor, uint8 over its own range with 0, as fake_quantize_per_tensor_affine`, async () => {
      const w = Rng.seeded(1).floats(r.dims[1]! * 3, -1, 1);
      const qat = withFakeQuant(oneNode('gemm_transB', w, [3, r.dims[1]!]), { weights: false, activations: true });
      const fq = fakeQuantOf(qat, 'x');
      const out = await runWith(qat, { x: new ort.Tensor('float32', f32(r.x), r.dims) }, [fq.dequantized, fq.scale, [fq.zeroPoint, DT.UINT8]]);
      expect(out[fq.dequantized]!.data).toEqual(f32(r.fake_quantized));
      expect(out[fq.scale]!.data[0]).toBe(Math.fround(r.scale));
      expect(out[fq.zeroPoint]!.data[0]).toBe(r.zero_point);
      // The scheme is the int8 export's (activationParams), applied to this tensor's range.
      const x = f32(r.x);
      const params = activationParams(Math.min(...x), Math.max(...x));
      expect(params.scale).toBe(Math.fround(r.scale));
      expect(params.zeroPoint).toBe(r.zero_point);
    });
  }

  it('leaves an all-zero activation at zero (no NaN from a zero range)', async () => {
    const qat = withFakeQuant(oneNode('gemm_transB', Rng.seeded(1).floats(12, -1, 1), [3, 4]), { weights: true, activations: true });
    const fq = fakeQuantOf(qat, 'x');
    const out = await runWith(qat, { x: new ort.Tensor('float32', new Float32Array(8), [2, 4]) }, [fq.dequantized]);
    expect(out[fq.dequantized]!.data).toEqual(new Float32Array(8));
    expect(out['y']!.data).toEqual(new Float32Array(6));
  });

  it('uses the per-channel scales shared/quantize computes for its int8 export, and its rounding', async () => {
    for (const r of ref.weights) {
      const w = f32(r.w);
      const q = quantizePerChannel(w, r.dims, r.axis);
      expect(q.scales).toEqual(f32(r.scale));
      const inner = r.dims.slice(r.axis + 1).reduce((a, d) => a * d, 1);
      const dequantized = Float32Array.from(q.values, (v, i) => v * q.scales[Math.floor(i / inner) % q.scales.length]!);
      expect(dequantized).toEqual(f32(r.fake_quantized));
    }
  });
});

describe('withFakeQuant: training through it', () => {
  /** The reference MLP: x → Gemm(fc1, transB) + b → Relu → Gemm(fc2, transB) + b. */
  function referenceMlp(): ModelProto {
    const b = new GraphBuilder(['x', 'logits', ...Object.keys(ref.mlp.params)]);
    for (const [name, p] of Object.entries(ref.mlp.params)) b.initializer(float32Tensor(name, p.dims, f32(p.values)));
    const h = b.op('Relu', [b.op('Gemm', ['x', 'fc1.weight', 'fc1.bias'], { transB: 1 }, 'fc1')], {}, 'relu');
    b.add('Gemm', [h, 'fc2.weight', 'fc2.bias'], { transB: 1 }, ['logits']);
    const graph = GraphProto.fromPartial({ name: 'mlp', node: b.nodes, initializer: b.initializers, input: [valueInfo('x', DT.FLOAT, ['N', 6])], output: [valueInfo('logits', DT.FLOAT, ['N', 3])] });
    return makeModel(graph, 17);
  }
  const heads = [{ name: 'out', logits: 'logits', labels: 'labels', loss: 'cross-entropy' as const }];
  const feeds = () => ({ x: new ort.Tensor('float32', f32(ref.mlp.x), ref.mlp.x_dims), labels: labelsTensor(ref.mlp.labels) });

  it('gives the straight-through gradients torch computes through fake_quantize (weights and activations)', async () => {
    const qat = withFakeQuant(referenceMlp(), { weights: true, activations: true });
    const g = compileTraining(qat, { heads, reduction: 'sum', dropout: 'mask-input' });
    expect(g.params.map((p) => p.name)).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    const r = await trainingStep(g, feeds(), new Map());
    expect(r.loss).toBeCloseTo(ref.mlp.loss, 4);
    for (const [name, grad] of Object.entries(ref.mlp.grads)) expectClose(r.grads.get(name)!, grad, 1e-5);
    // A gradient that stopped at the rounding (zero) or leaked into the scales would differ.
    expect(r.grads.get('fc1.weight')!.some((v) => v !== 0)).toBe(true);
  });

  it('gives the weights the gradient of the plain model evaluated at the quantized weights (straight-through, nothing through the scales)', async () => {
    // A CNN with batch norm, pooling and dropout: Conv and Gemm weights are fake-quantized.
    const spec: ModelSpecInput = {
      input: { shape: [1, 6, 6] },
      layers: [
        { type: 'conv2d', filters: 3, kernel: 3, padding: 'same', activation: 'relu' },
        { type: 'batch_norm' },
        { type: 'maxpool2d', kernel: 2 },
        { type: 'flatten' },
        { type: 'dropout', p: 0.25 },
        { type: 'dense', units: 4 },
      ],
      loss: 'cross-entropy',
      seed: 3,
    };
    const fm = buildForwardModel(spec);
    const qat = compileTraining(withFakeQuant(fm.model, { weights: true, activations: false }), { heads: fm.heads, reduction: 'sum', dropout: 'mask-input' });
    const plain = compileTraining(fm.model, { heads: fm.heads, reduction: 'sum', dropout: 'mask-input' });
    expect(qat.params.map((p) => [p.name, p.kind])).toEqual(plain.params.map((p) => [p.name, p.kind]));
    expect(qat.dropoutMasks).toEqual(plain.dropoutMasks);
    const n = 5;
    const mask = Float32Array.from(Rng.seeded(4).floats(n * 27, 0, 1), (u) => (u < 0.25 ? 0 : 1));
    const f = { x: new ort.Tensor('float32', Rng.seeded(8).floats(n * 36, -1, 1), [n, 1, 6, 6]), labels: labelsTensor([0, 1, 2, 3, 1]), [plain.dropoutMasks[0]!.name]: new ort.Tensor('float32', mask, [n, 27]) };
    const quantized = new Map<string, Float32Array>();
    for (const t of fm.model.graph!.initializer) {
      if (!t.name.endsWith('.weight') || t.dims.length < 2) continue;
      const q = quantizePerChannel(toFloat32(t), t.dims.map(Number), 0);
      const inner = t.dims.slice(1).reduce((a, d) => a * Number(d), 1);
      quantized.set(t.name, Float32Array.from(q.values, (v, i) => v * q.scales[Math.floor(i / inner)]!));
    }
    expect([...quantized.keys()]).toEqual(['conv2d_0.weight', 'dense_5.weight']);
    const a = await trainingStep(qat, f, new Map());
    const b = await trainingStep(plain, f, quantized);
    expect(a.loss).toBe(b.loss);
    for (const [name, grad] of a.grads) expect(grad, name).toEqual(b.grads.get(name));
    // The batch-norm running statistics see the quantized weights too.
    for (const buf of qat.buffers) expect(a.out[buf.updated]!.data).toEqual(b.out[buf.updated]!.data);
  });

  it('trains: SGD with fake-quantized weights and activations lowers the loss, and compileEval agrees', async () => {
    const fm = buildForwardModel({ input: { shape: [8] }, layers: [{ type: 'dense', units: 16, activation: 'relu' }, { type: 'dropout', p: 0.1 }, { type: 'dense', units: 3 }], loss: 'cross-entropy', seed: 2 });
    const qat = withFakeQuant(fm.model, { weights: true, activations: true });
    const g = compileTraining(qat, { heads: fm.heads, reduction: 'sum', dropout: 'mask-input' });
    const ev = compileEval(qat, { heads: fm.heads, correct: true });
    const n = 32;
    const x = Rng.seeded(5).floats(n * 8, -1, 1);
    const labels = Array.from({ length: n }, (_, s) => {
      const v = [0, 1, 2].map((c) => x[s * 8 + c]! + x[s * 8 + c + 4]!);
      return v.indexOf(Math.max(...v));
    });
    const ones = new ort.Tensor('float32', new Float32Array(n * 16).fill(1), [n, 16]);
    const f = { x: new ort.Tensor('float32', x, [n, 8]), labels: labelsTensor(labels), [g.dropoutMasks[0]!.name]: ones };
    // A mask of 1 − p keeps every unit at its value (X·0.9/0.9): the training forward is the eval forward.
    const noDropout = { ...f, [g.dropoutMasks[0]!.name]: new ort.Tensor('float32', new Float32Array(n * 16).fill(0.9), [n, 16]) };
    const params = new Map(g.params.map((p) => [p.name, Float32Array.from(p.init)]));
    const step = await stepper(g);
    const first = await step(f, params);
    let last = first;
    for (let k = 0; k < 80; k++) {
      for (const [name, grad] of last.grads) {
        const v = params.get(name)!;
        for (let i = 0; i < v.length; i++) v[i] = v[i]! - (0.2 / n) * grad[i]!;
      }
      last = await step(f, params);
    }
    expect(Number.isFinite(last.loss)).toBe(true);
    expect(last.loss).toBeLessThan(0.6 * first.loss);

    // The eval graph computes the same fake-quantized forward.
    const session = await ort.InferenceSession.create(encodeModel(ev.model));
    const evFeeds: Record<string, ort.Tensor> = { x: f.x, labels: f.labels };
    for (const p of ev.params) evFeeds[p] = new ort.Tensor('float32', params.get(p)!, g.params.find((q) => q.name === p)!.shape);
    const evOut = await session.run(evFeeds);
    await session.release();
    const check = await step(noDropout, params);
    expect(evOut[ev.outputs.loss]!.data[0]).toBeCloseTo(check.loss, 3);
  });
});

describe('withFakeQuant: the export is the plain float model', () => {
  const spec: ModelSpecInput = { input: { shape: [6] }, layers: [{ type: 'dense', units: 5, activation: 'relu' }, { type: 'dropout', p: 0.2 }, { type: 'dense', units: 3 }], loss: 'cross-entropy', seed: 1 };

  it('withoutFakeQuant gives back the model byte for byte; every added name starts with fake_quant/', () => {
    const fm = buildForwardModel(spec);
    const qat = withFakeQuant(fm.model, { weights: true, activations: true });
    expect(hasFakeQuant(qat)).toBe(true);
    expect(hasFakeQuant(fm.model)).toBe(false);
    const before = new Set(fm.model.graph!.node.map((n) => n.name));
    for (const n of qat.graph!.node) if (!before.has(n.name)) expect(n.name.startsWith(FAKE_QUANT_PREFIX)).toBe(true);
    expect(qat.graph!.node.filter((n) => n.opType === 'QuantizeLinear')).toHaveLength(2);
    expect(qat.graph!.node.filter((n) => n.opType === 'DynamicQuantizeLinear')).toHaveLength(2);
    expect(Buffer.from(encodeModel(withoutFakeQuant(qat)))).toEqual(Buffer.from(encodeModel(fm.model)));
    expect(() => withFakeQuant(qat, { weights: true, activations: true })).toThrow(/already holds fake quantization/);
    // The caller's model is never changed.
    expect(hasFakeQuant(fm.model)).toBe(false);
  });

  it('exportInference of the QAT model equals that of the plain model with the same trained weights, and quantizes to int8 with the rounding training saw', async () => {
    const fm = buildForwardModel(spec);
    const qat = withFakeQuant(fm.model, { weights: true, activations: true });
    const trained = new Map(fm.params.filter((p) => p.kind !== 'buffer').map((p, k) => [p.name, Rng.seeded(20 + k).floats(p.shape.reduce((a, d) => a * d, 1), -0.8, 0.8)]));
    const fromQat = exportInference(qat, trained);
    expect(hasFakeQuant(fromQat)).toBe(false);
    expect(Buffer.from(encodeModel(fromQat))).toEqual(Buffer.from(encodeModel(exportInference(fm.model, trained))));

    // gradfleet quantize's int8 weights dequantize to exactly what the QAT graph computed with.
    const int8 = toInt8(fromQat, new Map([['x', { min: -1, max: 1 }], ['dropout_1', { min: 0, max: 4 }]]));
    const weightsOnly = withFakeQuant(fm.model, { weights: true, activations: false });
    for (const t of weightsOnly.graph!.initializer) if (trained.has(t.name)) weightsOnly.graph!.initializer[weightsOnly.graph!.initializer.indexOf(t)] = float32Tensor(t.name, t.dims, trained.get(t.name)!);
    const fq = ['dense_0.weight', 'dense_2.weight'].map((w) => fakeQuantOf(weightsOnly, w).dequantized);
    const x = new ort.Tensor('float32', new Float32Array(6), [1, 6]);
    const seen = await runWith(weightsOnly, { x }, fq);
    const dq = int8.graph!.node.filter((n) => n.opType === 'DequantizeLinear' && n.input[0]!.endsWith('.weight_quantized')).map((n) => n.output[0]!);
    const exported = await runWith(int8, { x }, dq);
    expect(dq).toEqual(['dense_0.weight_dequantized', 'dense_2.weight_dequantized']);
    expect(exported[dq[0]!]!.data).toEqual(seen[fq[0]!]!.data);
    expect(exported[dq[1]!]!.data).toEqual(seen[fq[1]!]!.data);
  });
});
