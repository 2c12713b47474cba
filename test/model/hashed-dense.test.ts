import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { buildForwardModel } from '../../shared/model/build.js';
import { parseModelSpec } from '../../shared/model/load.js';
import { HASH_PRIME, hashCoefficients, materializeHashedWeight } from '../../shared/model/hashed.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import { exportInference } from '../../shared/autodiff/export.js';
import type { TrainingGraph } from '../../shared/autodiff/compile-types.js';
import { encodeModel, valueInfo, type ModelProto } from '../../shared/onnx/model.js';
import { DT } from '../../shared/onnx/tensor.js';
import { Rng } from '../../shared/random.js';
import type { ModelSpecInput } from '../../shared/model/spec.js';
import { initializer, runModel, specError, variance } from './helpers.js';

const spec = (inF: number, layers: ModelSpecInput['layers'], extra: Partial<ModelSpecInput> = {}): ModelSpecInput => ({ input: { shape: [inF] }, layers, loss: 'cross-entropy', seed: 4, ...extra });

/** The tensor a Gemm reads as its weight (input 1), as an extra graph output. */
function withWeightOutput(model: ModelProto, gemm: string): { model: ModelProto; weight: string } {
  const node = model.graph!.node.find((n) => n.opType === 'Gemm' && n.output[0] === gemm)!;
  const weight = node.input[1]!;
  const m = structuredClone(model);
  m.graph!.output.push(valueInfo(weight, DT.FLOAT, undefined));
  return { model: m, weight };
}

type Step = (x: Float32Array, labels: number[], params: Map<string, Float32Array>) => Promise<{ loss: number; grads: Map<string, Float32Array> }>;

/** One onnxruntime session for a training graph; each call runs a step: loss and every grad: output. */
async function stepper(g: TrainingGraph): Promise<Step> {
  const session = await ort.InferenceSession.create(encodeModel(g.model));
  return async (x, labels, params) => {
    const n = labels.length;
    const feeds: Record<string, ort.Tensor> = {
      [g.inputs[0]!.name]: new ort.Tensor('float32', x, [n, x.length / n]),
      [g.labels[0]!.name]: new ort.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [n]),
    };
    for (const p of g.params) feeds[p.name] = new ort.Tensor('float32', Float32Array.from(params.get(p.name) ?? p.init), p.shape);
    const out = await session.run(feeds);
    return { loss: out[g.outputs.loss]!.data[0] as number, grads: new Map(g.params.map((p) => [p.name, out[p.grad]!.data as Float32Array])) };
  };
}


describe('hashed dense layer (HashedNets): W[i,j] = ξ(i,j)·table[h(i,j)]', () => {
  it('materialises in the graph the W computed by hand from ((a·x + b) mod p) mod buckets and the sign hash', async () => {
    const [inF, units, buckets, seed] = [12, 10, 17, 5];
    const fm = buildForwardModel(spec(inF, [{ type: 'dense', name: 'fc', units, hashed: { buckets, seed } }]));
    const table = initializer(fm.model, 'fc.weight_table');
    expect(table.length).toBe(buckets);
    // No [in, out] (or [out, in]) weight is stored: the table and the bias are the only initializers.
    expect(fm.model.graph!.initializer.map((t) => t.name).sort()).toEqual(['fc.bias', 'fc.weight_table']);

    // By hand, with BigInt: x = i·out + j, h = ((a·x + b) mod p) mod buckets, ξ = 1 − 2·(((a'·x + b') mod p) mod 2).
    const { index, sign } = hashCoefficients(seed);
    const p = BigInt(HASH_PRIME);
    const expected = new Float32Array(inF * units);
    const used = new Set<number>();
    let negative = 0;
    for (let i = 0; i < inF; i++)
      for (let j = 0; j < units; j++) {
        const x = BigInt(i * units + j);
        const h = Number(((BigInt(index.a) * x + BigInt(index.b)) % p) % BigInt(buckets));
        const xi = Number(((BigInt(sign.a) * x + BigInt(sign.b)) % p) % 2n) === 0 ? 1 : -1;
        expected[i * units + j] = xi * table[h]!;
        used.add(h);
        if (xi < 0) negative++;
      }
    expect(used.size).toBe(buckets);
    expect(negative).toBeGreaterThan(0.3 * inF * units);
    expect(negative).toBeLessThan(0.7 * inF * units);
    expect(materializeHashedWeight(table, inF, units, seed)).toEqual(expected);

    const { model, weight } = withWeightOutput(fm.model, 'logits');
    const x = Rng.seeded(2).floats(3 * inF, -1, 1);
    const out = await runModel(model, { x: new ort.Tensor('float32', x, [3, inF]) });
    expect(out[weight]!.dims).toEqual([inF, units]);
    expect(out[weight]!.data).toEqual(expected);
    // y = x·W + b with W [in, out]
    const bias = initializer(fm.model, 'fc.bias');
    const logits = out['logits']!.data as Float32Array;
    for (let n = 0; n < 3; n++)
      for (let j = 0; j < units; j++) {
        let s = bias[j]!;
        for (let i = 0; i < inF; i++) s += x[n * inF + i]! * expected[i * units + j]!;
        expect(logits[n * units + j]).toBeCloseTo(s, 5);
      }
  });

  it('gives the table the gradient of finite differences, Σ ξ·dL/dW over the positions of each bucket of an unhashed layer with that W', async () => {
    const [inF, units, buckets, seed] = [6, 4, 5, 2];
    const hashedModel = buildForwardModel(spec(inF, [{ type: 'dense', name: 'fc', units, hashed: { buckets, seed } }]));
    const plainModel = buildForwardModel(spec(inF, [{ type: 'dense', name: 'fc', units }]));
    const table = initializer(hashedModel.model, 'fc.weight_table');
    const bias = Rng.seeded(9).floats(units, -0.5, 0.5);
    const w = materializeHashedWeight(table, inF, units, seed); // [in, out]
    const x = Rng.seeded(3).floats(5 * inF, -1, 1);
    const labels = [0, 3, 1, 2, 3];

    const hashed = compileTraining(hashedModel.model, { heads: hashedModel.heads, reduction: 'sum', dropout: 'mask-input' });
    const hashedStep = await stepper(hashed);
    const h = await hashedStep(x, labels, new Map([['fc.bias', bias]]));
    const gTable = h.grads.get('fc.weight_table')!;

    // The same layer unhashed: its weight is stored [out, in] (Gemm transB=1), i.e. Wᵀ.
    const wT = new Float32Array(units * inF);
    for (let i = 0; i < inF; i++) for (let j = 0; j < units; j++) wT[j * inF + i] = w[i * units + j]!;
    const plain = compileTraining(plainModel.model, { heads: plainModel.heads, reduction: 'sum', dropout: 'mask-input' });
    const p = await (await stepper(plain))(x, labels, new Map([['fc.weight', wT], ['fc.bias', bias]]));
    expect(p.loss).toBeCloseTo(h.loss, 5);
    const gWT = p.grads.get('fc.weight')!;
    const { index, sign } = hashCoefficients(seed);
    const expected = new Float64Array(buckets);
    for (let i = 0; i < inF; i++)
      for (let j = 0; j < units; j++) {
        const pos = BigInt(i * units + j);
        const bucket = Number(((BigInt(index.a) * pos + BigInt(index.b)) % BigInt(HASH_PRIME)) % BigInt(buckets));
        const xi = Number(((BigInt(sign.a) * pos + BigInt(sign.b)) % BigInt(HASH_PRIME)) % 2n) === 0 ? 1 : -1;
        expected[bucket] += xi * gWT[j * inF + i]!;
      }
    for (let k = 0; k < buckets; k++) expect(gTable[k]).toBeCloseTo(expected[k]!, 5);
    expect(h.grads.get('fc.bias')).toEqual(p.grads.get('fc.bias'));

    // Central differences of the loss in each table entry.
    const eps = 1e-2;
    for (let k = 0; k < buckets; k++) {
      const moved = (d: number) => {
        const t = Float32Array.from(table);
        t[k] = t[k]! + d;
        return new Map([['fc.weight_table', t], ['fc.bias', bias]]);
      };
      const up = (await hashedStep(x, labels, moved(eps))).loss;
      const down = (await hashedStep(x, labels, moved(-eps))).loss;
      expect(Math.abs((up - down) / (2 * eps) - gTable[k]!)).toBeLessThan(2e-3 * (1 + Math.abs(gTable[k]!)));
    }
  });

  it('stores only the table: model.onnx for 256 vs 65,536 buckets differs by about the table bytes', () => {
    const size = (buckets: number) => {
      const fm = buildForwardModel(spec(256, [{ type: 'dense', units: 256, activation: 'relu', hashed: { buckets } }, { type: 'dense', units: 10 }]));
      const params = new Map(fm.model.graph!.initializer.map((t) => [t.name, initializer(fm.model, t.name)]));
      return encodeModel(exportInference(fm.model, params)).length;
    };
    const unhashed = buildForwardModel(spec(256, [{ type: 'dense', units: 256, activation: 'relu' }, { type: 'dense', units: 10 }]));
    const small = size(256);
    const large = size(65_536);
    const tableBytes = (65_536 - 256) * 4;
    expect(Math.abs(large - small - tableBytes)).toBeLessThan(256);
    // The unhashed layer stores all 256×256 weights.
    expect(encodeModel(unhashed.model).length - small).toBeGreaterThan(256 * 256 * 4 - 256 * 4 - 4096);
    expect(small).toBeLessThan(20_000);
  });

  it('draws the table with the variance of the layer init scheme, so W has it too (He before relu, Xavier otherwise)', () => {
    const fm = buildForwardModel(spec(256, [{ type: 'dense', name: 'he', units: 128, activation: 'relu', hashed: { buckets: 4096, seed: 1 } }, { type: 'dense', name: 'xavier', units: 64, hashed: { buckets: 4096, seed: 2 } }]));
    const he = initializer(fm.model, 'he.weight_table');
    const xavier = initializer(fm.model, 'xavier.weight_table');
    expect(variance(he) / (2 / 256)).toBeGreaterThan(0.9);
    expect(variance(he) / (2 / 256)).toBeLessThan(1.1);
    expect(variance(xavier) / (2 / (128 + 64))).toBeGreaterThan(0.9);
    expect(variance(xavier) / (2 / (128 + 64))).toBeLessThan(1.1);
    const w = materializeHashedWeight(he, 256, 128, 1);
    expect(variance(w) / (2 / 256)).toBeGreaterThan(0.9);
    expect(variance(w) / (2 / 256)).toBeLessThan(1.1);
    expect(fm.params.find((p) => p.name === 'he.weight_table')).toEqual({ name: 'he.weight_table', shape: [4096], kind: 'weight' });
  });

  it('trains: SGD on a tiny problem lowers the loss', async () => {
    const fm = buildForwardModel(spec(8, [{ type: 'dense', units: 16, activation: 'relu', hashed: { buckets: 24, seed: 7 } }, { type: 'dense', units: 3, hashed: { buckets: 20, seed: 8 } }]));
    const g = compileTraining(fm.model, { heads: fm.heads, reduction: 'sum', dropout: 'mask-input' });
    const n = 24;
    const x = Rng.seeded(5).floats(n * 8, -1, 1);
    // Labels from a fixed linear rule, so there is something to learn.
    const labels = Array.from({ length: n }, (_, s) => {
      const f = [0, 1, 2].map((c) => x[s * 8 + c]! - x[s * 8 + c + 3]!);
      return f.indexOf(Math.max(...f));
    });
    const params = new Map(g.params.map((p) => [p.name, Float32Array.from(p.init)]));
    const step = await stepper(g);
    const first = await step(x, labels, params);
    let last = first;
    for (let k = 0; k < 60; k++) {
      for (const [name, grad] of last.grads) {
        const v = params.get(name)!;
        for (let i = 0; i < v.length; i++) v[i] = v[i]! - (0.1 / n) * grad[i]!;
      }
      last = await step(x, labels, params);
    }
    expect(Number.isFinite(last.loss)).toBe(true);
    expect(last.loss).toBeLessThan(0.6 * first.loss);
  });

  it('leaves specs without hashed weights as they were (ordinary dense layers store [out, in] and use transB=1)', () => {
    const fm = buildForwardModel(spec(6, [{ type: 'dense', name: 'fc', units: 4 }]));
    expect(fm.model.graph!.node.map((n) => n.opType)).toEqual(['Gemm']);
    expect(fm.params.map((p) => p.name)).toEqual(['fc.weight', 'fc.bias']);
  });
});

describe('hashed dense layer: spec errors name the field', () => {
  const mlp = (layers: unknown[]): unknown => ({ input: { shape: [8] }, layers, seed: 1 });

  it('rejects buckets that are not a positive integer', () => {
    for (const [buckets, shown] of [[0, '0'], [-4, '-4'], [2.5, '2.5'], ['many', "'many'"]] as const) {
      const e = specError(mlp([{ type: 'dense', units: 4, hashed: { buckets } }]));
      expect(e.issues[0]!.path).toEqual(['layers', 0, 'hashed', 'buckets']);
      expect(e.issues[0]!.message).toBe(`layers[0].hashed.buckets must be a positive integer, got ${shown}`);
    }
    const missing = specError(mlp([{ type: 'dense', units: 4, hashed: { seed: 1 } }]));
    expect(missing.issues[0]!.message).toBe('layers[0].hashed.buckets is required: it must be a positive integer');
  });

  it('rejects unknown keys in hashed, listing the allowed ones, and a non-integer seed', () => {
    const e = specError(mlp([{ type: 'dense', units: 4, hashed: { buckets: 8, bucket: 3 } }]));
    expect(e.message).toContain("layers[0].hashed has unknown key 'bucket'; allowed: buckets, seed");
    expect(specError(mlp([{ type: 'dense', units: 4, hashed: { buckets: 8, seed: 0.5 } }])).issues[0]!.path).toEqual(['layers', 0, 'hashed', 'seed']);
  });

  it('rejects more buckets than the weights they stand for', () => {
    const e = specError(mlp([{ type: 'dense', units: 4, hashed: { buckets: 33 } }]));
    expect(e.issues[0]!.path).toEqual(['layers', 0, 'hashed', 'buckets']);
    expect(e.message).toContain('layers[0].hashed.buckets is 33, more than the 8×4 = 32 weights it stands for');
    expect(() => parseModelSpec(mlp([{ type: 'dense', units: 4, hashed: { buckets: 32 } }]))).not.toThrow();
  });

  it('rejects hashed together with share, and sharing a hashed layer', () => {
    const both = specError(mlp([{ type: 'dense', name: 'enc', units: 8 }, { type: 'dense', share: 'enc', hashed: { buckets: 4 } }]));
    expect(both.issues[0]!.path).toEqual(['layers', 1, 'hashed']);
    expect(both.message).toContain('layers[1].hashed cannot be combined with share');
    const shared = specError(mlp([{ type: 'dense', name: 'enc', units: 8, hashed: { buckets: 16 } }, { type: 'dense', share: 'enc', transpose: true }]));
    expect(shared.issues[0]!.path).toEqual(['layers', 1, 'share']);
    expect(shared.message).toContain("layers[1].share: 'enc' is a hashed dense layer");
  });

  it('rejects a hashed layer with more positions than the hash covers (in×out ≥ 2^31)', () => {
    const e = specError({ input: { shape: [65_536] }, layers: [{ type: 'dense', units: 65_536, hashed: { buckets: 1024 } }], seed: 1 });
    expect(e.issues[0]!.path).toEqual(['layers', 0, 'hashed']);
    expect(e.message).toContain('4294967296 positions');
  });
});
