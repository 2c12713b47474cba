/**
 * shared/autodiff/ensemble-export.ts against onnxruntime: K members with different weights are
 * exported one by one and as one ensemble model; on real inputs (the bundled digits) the
 * ensemble's probabilities equal the mean of the members' softmax outputs, and its vote equals
 * the majority of the members' argmax classes (ties to the lowest class).
 */
import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { buildForwardModel } from '../../shared/model/build.js';
import { defaultModelSpec } from '../../shared/model/defaults.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import { exportInference } from '../../shared/autodiff/export.js';
import { exportEnsemble, type EnsembleHead } from '../../shared/autodiff/ensemble-export.js';
import { CompileError } from '../../shared/autodiff/errors.js';
import { encodeModel, type ModelProto } from '../../shared/onnx/model.js';
import { loadDigits } from '../../shared/data/digits.js';
import { gatherBatch } from '../../shared/data/batch.js';
import type { ModelSpecInput } from '../../shared/model/spec.js';
import { Rng } from '../../shared/random.js';

const digits = loadDigits();
const N = 64;
const batch = gatherBatch(
  digits,
  Array.from({ length: N }, (_, i) => i * 37),
);

/** K inference models of one architecture whose weights differ by seeded noise (scale large enough that members disagree). */
function members(spec: ModelSpecInput, k: number, noise: number): { models: ModelProto[]; heads: EnsembleHead[] } {
  const forward = buildForwardModel(spec);
  const train = compileTraining(forward.model, { heads: forward.heads, reduction: 'sum', dropout: 'native' });
  const models = Array.from({ length: k }, (_, m) => {
    const rng = Rng.seeded(100 + m);
    const params = new Map(train.params.map((p) => [p.name, p.init.map((v) => v + noise * (rng.uniform() - 0.5))]));
    const buffers = new Map(train.buffers.map((b) => [b.name, Float32Array.from(b.init, (v, i) => (b.name.includes('var') ? v + 0.1 * (i % 3) : v + 0.05 * (rng.uniform() - 0.5)))]));
    return exportInference(forward.model, params, buffers);
  });
  return { models, heads: forward.heads.map((h) => ({ name: h.name, logits: h.logits, loss: h.loss })) };
}

async function run(model: ModelProto, x: Float32Array, dims: number[]): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  try {
    return await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
  } finally {
    await session.release();
  }
}

function softmaxRows(logits: Float32Array, rows: number, classes: number): Float64Array {
  const out = new Float64Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[r * classes + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += out[r * classes + c] = Math.exp(logits[r * classes + c]! - max);
    for (let c = 0; c < classes; c++) out[r * classes + c]! /= sum;
  }
  return out;
}

function argmaxRow(v: ArrayLike<number>, r: number, classes: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (v[r * classes + c]! > v[r * classes + best]!) best = c;
  return best;
}

const mlp = defaultModelSpec(5);
const cnn: ModelSpecInput = {
  input: { name: 'x', shape: [784] },
  layers: [
    { type: 'reshape', shape: [1, 28, 28] },
    { type: 'conv2d', name: 'c1', filters: 4, kernel: 3, padding: 'same' },
    { type: 'batch_norm', name: 'bn1' },
    { type: 'relu' },
    { type: 'maxpool2d', kernel: 2 },
    { type: 'flatten' },
    { type: 'dropout', p: 0.3 },
    { type: 'dense', name: 'out', units: 10 },
  ],
  loss: 'cross-entropy',
  seed: 9,
};

describe('exportEnsemble (one ONNX model for K members)', () => {
  it.each([
    { model: 'an MLP with dropout', spec: mlp, k: 5 },
    { model: 'a CNN with batch norm', spec: cnn, k: 3 },
  ])('averages the members’ softmax probabilities inside the graph ($model, K = $k)', async ({ spec, k }) => {
    const { models, heads } = members(spec, k, 0.5);
    const ensemble = exportEnsemble(models, { predict: 'average', heads });
    expect(ensemble.outputs.map((o) => o.name)).toEqual(['probabilities', 'class']);
    const dims = [N, 784];
    const out = await run(ensemble.model, batch.x, dims);
    const probabilities = out.probabilities!.data as Float32Array;
    const classes = out.class!.data as BigInt64Array;
    expect(out.probabilities!.dims).toEqual([N, 10]);
    const mean = new Float64Array(N * 10);
    const memberClasses: number[][] = [];
    for (const m of models) {
      const logits = (await run(m, batch.x, dims))[heads[0]!.logits]!.data as Float32Array;
      const p = softmaxRows(logits, N, 10);
      for (let i = 0; i < mean.length; i++) mean[i]! += p[i]! / k;
      memberClasses.push(Array.from({ length: N }, (_, r) => argmaxRow(logits, r, 10)));
    }
    let maxDiff = 0;
    for (let i = 0; i < mean.length; i++) maxDiff = Math.max(maxDiff, Math.abs(probabilities[i]! - mean[i]!));
    expect(maxDiff).toBeLessThan(1e-6);
    for (let r = 0; r < N; r++) expect(Number(classes[r])).toBe(argmaxRow(probabilities, r, 10));
    // The members really disagree somewhere, so averaging is not trivially one member's answer.
    const disagreements = memberClasses[0]!.filter((c, r) => memberClasses.some((mc) => mc[r] !== c)).length;
    expect(disagreements).toBeGreaterThan(0);
  }, 60_000);

  it('takes the majority of the members’ argmax classes in vote mode, ties to the lowest class', async () => {
    const k = 4; // even K makes ties possible
    const { models, heads } = members(mlp, k, 0.8);
    const ensemble = exportEnsemble(models, { predict: 'vote', heads });
    expect(ensemble.outputs.map((o) => o.name)).toEqual(['votes', 'class']);
    const dims = [N, 784];
    const out = await run(ensemble.model, batch.x, dims);
    const votes = out.votes!.data as Float32Array;
    const classes = out.class!.data as BigInt64Array;
    const counts = new Float64Array(N * 10);
    for (const m of models) {
      const logits = (await run(m, batch.x, dims))[heads[0]!.logits]!.data as Float32Array;
      for (let r = 0; r < N; r++) counts[r * 10 + argmaxRow(logits, r, 10)]!++;
    }
    expect(Array.from(votes)).toEqual(Array.from(counts));
    let ties = 0;
    let split = 0;
    for (let r = 0; r < N; r++) {
      const row = Array.from(counts.subarray(r * 10, r * 10 + 10));
      const top = Math.max(...row);
      if (row.filter((v) => v === top).length > 1) ties++;
      if (top < k) split++;
      expect(Number(classes[r])).toBe(row.indexOf(top));
    }
    expect(split).toBeGreaterThan(0);
    expect(ties).toBeGreaterThan(0);
  }, 60_000);

  it('keeps every member’s tensors apart: member k’s initializers are named member<k>/…', () => {
    const { models, heads } = members(mlp, 3, 0.1);
    const g = exportEnsemble(models, { predict: 'average', heads }).model.graph!;
    const weights = g.initializer.map((t) => t.name).filter((n) => n.endsWith('fc1.weight'));
    expect(weights).toEqual(['member0/fc1.weight', 'member1/fc1.weight', 'member2/fc1.weight']);
    expect(g.input.map((i) => i.name)).toEqual(['x']);
    expect(new Set(g.node.map((n) => n.name)).size).toBe(g.node.length);
  });

  it('refuses a vote over a regression head and members with different inputs, naming what is wrong', () => {
    const reg = members({ input: { name: 'x', shape: [784] }, layers: [{ type: 'dense', name: 'fc', units: 2 }], loss: 'mse', seed: 1 }, 2, 0.1);
    expect(() => exportEnsemble(reg.models, { predict: 'vote', heads: reg.heads })).toThrow(CompileError);
    expect(() => exportEnsemble(reg.models, { predict: 'vote', heads: reg.heads })).toThrow(/mse loss; majority vote needs a classification/);
    const other = members({ input: { name: 'pixels', shape: [784] }, layers: [{ type: 'dense', name: 'fc', units: 2 }], loss: 'mse', seed: 1 }, 1, 0.1);
    expect(() => exportEnsemble([reg.models[0]!, other.models[0]!], { predict: 'average', heads: reg.heads })).toThrow(/member 1 has data inputs \(pixels:1\), member 0 has \(x:1\)/);
  });

  it('averages regression outputs as they are', async () => {
    const { models, heads } = members({ input: { name: 'x', shape: [784] }, layers: [{ type: 'dense', name: 'fc', units: 3 }], loss: 'mse', seed: 2 }, 3, 0.3);
    const ensemble = exportEnsemble(models, { predict: 'average', heads });
    expect(ensemble.outputs.map((o) => o.name)).toEqual(['prediction']);
    const dims = [N, 784];
    const got = (await run(ensemble.model, batch.x, dims)).prediction!.data as Float32Array;
    const mean = new Float64Array(N * 3);
    for (const m of models) {
      const y = (await run(m, batch.x, dims))[heads[0]!.logits]!.data as Float32Array;
      for (let i = 0; i < mean.length; i++) mean[i]! += y[i]! / 3;
    }
    for (let i = 0; i < mean.length; i++) expect(Math.abs(got[i]! - mean[i]!)).toBeLessThan(1e-5);
  });
});
