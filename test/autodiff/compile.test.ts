import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { ModelProto, FunctionProto, SparseTensorProto, GraphProto } from '../../shared/proto/gen/onnx.js';
import { describeValueInfo, opsetOf } from '../../shared/onnx/model.js';
import { makeAttributes } from '../../shared/onnx/attributes.js';
import { DT, float32Tensor } from '../../shared/onnx/tensor.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import { compileEval } from '../../shared/autodiff/eval.js';
import { CompileError, UnsupportedOpError } from '../../shared/autodiff/errors.js';
import type { CompileOptions, HeadSpec, TrainingGraph } from '../../shared/autodiff/compile-types.js';
import { Rng } from '../../shared/random.js';
import { bnDropoutModel, floats, floatTensor, forwardModel, labelTensor, mlp, scalarOf, session, weightFeeds } from './compile-fixtures.js';

const ceHead: HeadSpec = { name: 'out', logits: 'logits', labels: 'labels', loss: 'cross-entropy' };

/** Feeds for an MLP training graph: N seeded samples, labels cycling through the classes. */
function mlpBatch(g: { inputs: TrainingGraph['inputs']; labels: TrainingGraph['labels'] }, n: number, seed = 5) {
  const x = floats(g.inputs[0]!, n, seed, -2, 2);
  const labels = Array.from({ length: n }, (_, i) => (i * 7 + seed) % 3);
  return { x, labels, feeds: { [g.inputs[0]!.name]: floatTensor(x), [g.labels[0]!.name]: labelTensor(g.labels[0]!, labels) } as Record<string, ort.Tensor> };
}

/**
 * Compares every `grad:<param>` (and `grad:<input>`) of a training graph with central differences
 * of its own `loss` output, perturbing one element of one fed tensor at a time.
 */
async function centralDifferences(g: TrainingGraph, feeds: Record<string, ort.Tensor>, wrt: { name: string; grad: string }[], eps = 1e-3) {
  const s = await session(g.model);
  const base = await s.run(feeds);
  let maxErr = 0;
  let checked = 0;
  for (const { name, grad } of wrt) {
    const t = feeds[name]!;
    const x = t.data as Float32Array;
    const analytic = base[grad]!.data as Float32Array;
    expect(analytic.length).toBe(x.length);
    for (let k = 0; k < x.length; k++) {
      const at = async (v: number) => {
        const xp = Float32Array.from(x);
        xp[k] = v;
        return scalarOf((await s.run({ ...feeds, [name]: new ort.Tensor('float32', xp, t.dims as number[]) }))[g.outputs.loss]);
      };
      const numeric = ((await at(x[k]! + eps)) - (await at(x[k]! - eps))) / (2 * eps);
      const err = Math.abs(numeric - analytic[k]!);
      expect(Number.isFinite(analytic[k]!), `${grad}[${k}] is not finite`).toBe(true);
      expect(err, `${grad}[${k}]: analytic ${analytic[k]}, numeric ${numeric}`).toBeLessThan(2e-3 + 1e-2 * Math.abs(numeric));
      maxErr = Math.max(maxErr, err);
      checked++;
    }
  }
  await s.release();
  return { maxErr, checked };
}

/** Pre-activations of the MLP's first layer, to keep test points away from ReLU's kink. */
function firstLayer(x: Float32Array, n: number, w: Float32Array, bias: Float32Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < 8; j++) out.push(bias[j]! + [0, 1, 2, 3].reduce((s, k) => s + x[i * 4 + k]! * w[j * 4 + k]!, 0));
  return out;
}

describe('compileTraining on an MLP (Gemm → Relu → MatMul + Add, cross-entropy)', () => {
  const fx = mlp();
  const g = compileTraining(fx.model, { heads: [ceHead], correct: true });

  it('makes every float initializer a parameter input, in initializer order, with its kind', () => {
    expect(g.params.map((p) => [p.name, p.kind, p.grad])).toEqual([
      ['fc1.weight', 'weight', 'grad:fc1.weight'],
      ['fc1.bias', 'bias', 'grad:fc1.bias'],
      ['fc2.weight', 'weight', 'grad:fc2.weight'],
      ['fc2.bias', 'bias', 'grad:fc2.bias'],
    ]);
    expect(g.params.map((p) => p.shape)).toEqual([[8, 4], [8], [8, 3], [3]]);
    expect(Array.from(g.params[0]!.init)).toEqual(Array.from(fx.values.get('fc1.weight')!));
    const graph = g.model.graph!;
    const params = new Set(g.params.map((p) => p.name));
    expect(graph.initializer.filter((t) => params.has(t.name))).toEqual([]);
    expect(graph.input.map((v) => v.name)).toEqual(['x', 'labels', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
  });

  it('declares the batch dimension symbolic and int64 labels of shape [N]', () => {
    expect(g.inputs).toEqual([{ name: 'x', elemType: DT.FLOAT, shape: ['N', 4] }]);
    expect(g.labels).toEqual([{ name: 'labels', elemType: DT.INT64, shape: ['N'] }]);
    const labels = g.model.graph!.input.find((v) => v.name === 'labels')!;
    expect(describeValueInfo(labels)).toEqual({ elemType: DT.INT64, shape: ['N'] });
  });

  it('lists its outputs in a stable order: loss, head loss, normalizer, correct, grads', () => {
    expect(g.model.graph!.output.map((o) => o.name)).toEqual(['loss', 'loss:out', 'normalizer:out', 'correct', 'grad:fc1.weight', 'grad:fc1.bias', 'grad:fc2.weight', 'grad:fc2.bias']);
    expect(g.outputs).toEqual({ loss: 'loss', headLosses: ['loss:out'], headNormalizers: ['normalizer:out'], correct: 'correct', inputGrads: [] });
    const again = compileTraining(mlp().model, { heads: [ceHead], correct: true });
    expect(again.model.graph!.output.map((o) => o.name)).toEqual(g.model.graph!.output.map((o) => o.name));
  });

  it('raises the opset to 17 and leaves the forward model untouched', () => {
    expect(g.opset).toBe(17);
    expect(opsetOf(g.model)).toBe(17);
    expect(fx.model.graph!.initializer.map((t) => t.name)).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect(fx.model.graph!.node.length).toBe(4);
  });

  it('gives gradients that match central differences of its own loss', async () => {
    const n = 5;
    const { x, feeds } = mlpBatch(g, n);
    const pre = firstLayer(x.data, n, g.params[0]!.init, g.params[1]!.init);
    expect(Math.min(...pre.map(Math.abs))).toBeGreaterThan(0.01); // no ReLU kink within reach of ±eps
    const r = await centralDifferences(g, { ...feeds, ...weightFeeds(g) }, g.params.map((p) => ({ name: p.name, grad: p.grad })));
    expect(r.checked).toBe(32 + 8 + 24 + 3);
    expect(r.maxErr).toBeLessThan(2e-3);
  });

  it('runs at any batch size and counts correct predictions as argmax(logits) == label', async () => {
    const s = await session(g.model);
    const logitsOf = compileEval(fx.model, { heads: [ceHead] });
    const ev = await session(logitsOf.model);
    for (const n of [1, 7]) {
      const { feeds, labels } = mlpBatch(g, n, 9);
      const out = await s.run({ ...feeds, ...weightFeeds(g) });
      const logits = (await ev.run({ ...feeds, ...weightFeeds(g) }))['logits']!.data as Float32Array;
      const hits = labels.filter((y, i) => {
        const row = Array.from(logits.subarray(i * 3, i * 3 + 3));
        return row.indexOf(Math.max(...row)) === y;
      }).length;
      expect(scalarOf(out['correct'])).toBe(hits);
      expect(scalarOf(out['normalizer:out'])).toBe(n);
      expect((out['grad:fc1.weight']!.data as Float32Array).length).toBe(32);
    }
    await s.release();
    await ev.release();
  });

  it("with reduction 'sum' gives N times the mean loss and N times the mean gradients", async () => {
    const sum = compileTraining(fx.model, { heads: [ceHead], reduction: 'sum' });
    const n = 6;
    const { feeds } = mlpBatch(g, n);
    const [a, b] = [await session(g.model), await session(sum.model)];
    const mean = await a.run({ ...feeds, ...weightFeeds(g) });
    const total = await b.run({ ...feeds, ...weightFeeds(sum) });
    expect(scalarOf(total['loss'])).toBeCloseTo(n * scalarOf(mean['loss']), 4);
    const gm = mean['grad:fc2.weight']!.data as Float32Array;
    const gs = total['grad:fc2.weight']!.data as Float32Array;
    gs.forEach((v, i) => expect(v).toBeCloseTo(n * gm[i]!, 4));
  });

  it('outputs grad:<input> for requested inputs (FGSM), matching central differences', async () => {
    const adv = compileTraining(fx.model, { heads: [ceHead], inputGradients: ['x'] });
    expect(adv.outputs.inputGrads).toEqual(['grad:x']);
    expect(adv.model.graph!.output.at(-1)!.name).toBe('grad:x');
    const { feeds } = mlpBatch(adv, 3, 21);
    const r = await centralDifferences(adv, { ...feeds, ...weightFeeds(adv) }, [{ name: 'x', grad: 'grad:x' }]);
    expect(r.checked).toBe(12);
  });
});

describe('compileTraining decides what is a parameter', () => {
  /** y = Pow(x·w, e) + s·b: e feeds only Pow's exponent (nondiff), s is a scalar constant. */
  const fx = forwardModel({
    inputs: [{ name: 'x', shape: ['N', 3] }],
    outputs: [{ name: 'y', shape: ['N', 3] }],
    params: [
      { name: 'w', shape: [3] },
      { name: 'e', shape: [1], values: [2] },
      { name: 's', shape: [], values: [0.5] },
      { name: 'b', shape: [3] },
    ],
    build: (b) => {
      const p = b.op('Pow', [b.op('Mul', ['x', 'w']), 'e']);
      b.add('Add', [p, b.op('Mul', ['s', 'b'])], {}, ['y']);
    },
  });
  const mse: HeadSpec = { name: 'reg', logits: 'y', labels: 'target', loss: 'mse' };

  it('keeps nondiff-only and scalar initializers as constants', () => {
    const g = compileTraining(fx.model, { heads: [mse] });
    expect(g.params.map((p) => p.name)).toEqual(['w', 'b']);
    expect(g.model.graph!.initializer.map((t) => t.name)).toEqual(expect.arrayContaining(['e', 's']));
    expect(g.labels).toEqual([{ name: 'target', elemType: DT.FLOAT, shape: ['N', 3] }]);
  });

  it('freezes initializers whose name matches the regex', () => {
    const g = compileTraining(fx.model, { heads: [mse], freeze: /^w$/g });
    expect(g.params.map((p) => p.name)).toEqual(['b']);
    expect(compileTraining(fx.model, { heads: [mse], freeze: /^w$/g }).params.map((p) => p.name)).toEqual(['b']);
  });

  it('reads Constant nodes written with value_float / value_ints', async () => {
    const fx2 = forwardModel({
      inputs: [{ name: 'x', shape: ['N', 2] }],
      outputs: [{ name: 'y', shape: ['N', 2] }],
      params: [{ name: 'w', shape: [2], values: [0.5, -1] }],
      build: (b) => {
        b.add('Constant', [], {}, ['three']);
        b.nodes.at(-1)!.attribute = makeAttributes({ value_float: { float: 3 } });
        b.add('Constant', [], { value_ints: [-1, 2] }, ['shape']);
        b.add('Reshape', [b.op('Mul', [b.op('Mul', ['x', 'w']), 'three']), 'shape'], {}, ['y']);
      },
    });
    const g = compileTraining(fx2.model, { heads: [{ name: 'y', logits: 'y', labels: 't', loss: 'mse' }] });
    expect(g.params.map((p) => p.name)).toEqual(['w']);
    const s = await session(g.model);
    const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2]), [1, 2]), t: new ort.Tensor('float32', Float32Array.from([0, 0]), [1, 2]), ...weightFeeds(g) });
    // y = 3·x·w = [1.5, −6]; loss = (1.5² + 6²)/2; dL/dw = (2·y·3x)/2 = [4.5, −36]
    expect(scalarOf(out['loss'])).toBeCloseTo((1.5 ** 2 + 36) / 2, 5);
    expect(Array.from(out['grad:w']!.data as Float32Array)).toEqual([4.5, -36]);
    await s.release();
  });

  it('gives a zero gradient of the right shape to a parameter the loss does not reach', async () => {
    // Two outputs; only `a` has a head, so `v` (feeding only `c`) gets zeros.
    const two = forwardModel({
      inputs: [{ name: 'x', shape: ['N', 2] }],
      outputs: [
        { name: 'a', shape: ['N', 2] },
        { name: 'c', shape: ['N', 2] },
      ],
      params: [
        { name: 'u', shape: [2] },
        { name: 'v', shape: [2] },
      ],
      build: (b) => {
        b.add('Mul', ['x', 'u'], {}, ['a']);
        b.add('Mul', ['x', 'v'], {}, ['c']);
      },
    });
    const g = compileTraining(two.model, { heads: [{ name: 'a', logits: 'a', labels: 't', loss: 'mse' }] });
    const s = await session(g.model);
    const out = await s.run({ x: floatTensor(floats(g.inputs[0]!, 3, 1)), t: floatTensor(floats(g.labels[0]!, 3, 2)), ...weightFeeds(g) });
    expect(Array.from(out['grad:v']!.data as Float32Array)).toEqual([0, 0]);
    expect(Array.from(out['grad:u']!.data as Float32Array).some((v) => v !== 0)).toBe(true);
    await s.release();
  });

  it('weights several heads into the total loss and reports each', async () => {
    const two = forwardModel({
      inputs: [{ name: 'x', shape: ['N', 2] }],
      outputs: [
        { name: 'a', shape: ['N', 2] },
        { name: 'c', shape: ['N', 2] },
      ],
      params: [{ name: 'u', shape: [2] }],
      build: (b) => {
        b.add('Mul', ['x', 'u'], {}, ['a']);
        b.add('Add', ['x', 'u'], {}, ['c']);
      },
    });
    const heads: HeadSpec[] = [
      { name: 'first', logits: 'a', labels: 'ta', loss: 'mse', weight: 0.25 },
      { name: 'second', logits: 'c', labels: 'tc', loss: 'bce', weight: 2 },
    ];
    const g = compileTraining(two.model, { heads });
    expect(g.outputs.headLosses).toEqual(['loss:first', 'loss:second']);
    const s = await session(g.model);
    const out = await s.run({ x: floatTensor(floats(g.inputs[0]!, 4, 1)), ta: floatTensor(floats(g.labels[0]!, 4, 2)), tc: floatTensor(floats(g.labels[1]!, 4, 3, 0, 1)), ...weightFeeds(g) });
    expect(scalarOf(out['loss'])).toBeCloseTo(0.25 * scalarOf(out['loss:first']) + 2 * scalarOf(out['loss:second']), 5);
    await s.release();
  });
});

describe('compileTraining refuses what it cannot compile', () => {
  const withNode = (opType: string, domain = '') => {
    const fx = mlp();
    const g = fx.model.graph!;
    g.node.push({ ...g.node[0]!, name: 'mystery', opType, domain, input: ['logits'], output: ['extra'], attribute: [] });
    return fx.model;
  };

  it('names an unsupported op, its node and the supported list before anything else', () => {
    // The head is wrong too: the op check must come first.
    const run = () => compileTraining(withNode('Einsum'), { heads: [{ ...ceHead, logits: 'nope' }] });
    expect(run).toThrow(UnsupportedOpError);
    expect(run).toThrow(/'Einsum' \(node 'mystery'\).*Supported ops: .*Gemm/);
  });

  it('rejects ops of other domains', () => {
    expect(() => compileTraining(withNode('FusedGemm', 'com.microsoft'), { heads: [ceHead] })).toThrow(/com\.microsoft\.FusedGemm/);
  });

  it('rejects opsets outside 13..17 and compiles opset 13 into opset 16', () => {
    for (const v of [12, 18]) expect(() => compileTraining(mlp(v).model, { heads: [ceHead] })).toThrow(new RegExp(`opset ${v}; gradfleet compiles opsets 13 to 17`));
    const g = compileTraining(mlp(13).model, { heads: [ceHead] });
    expect(g.opset).toBe(16);
    expect(opsetOf(g.model)).toBe(16);
  });

  it('rejects local functions, sparse initializers and external data', () => {
    const fns = mlp().model;
    fns.functions.push(FunctionProto.fromPartial({ name: 'f', domain: 'custom' }));
    expect(() => compileTraining(fns, { heads: [ceHead] })).toThrow(/local functions \(custom\.f\)/);
    const sparse = mlp().model;
    sparse.graph!.sparseInitializer.push(SparseTensorProto.fromPartial({ values: float32Tensor('sp', [1], [1]), dims: [4] }));
    expect(() => compileTraining(sparse, { heads: [ceHead] })).toThrow(/sparse initializers \(sp\)/);
    const external = mlp().model;
    external.graph!.initializer[0]!.dataLocation = 1;
    expect(() => compileTraining(external, { heads: [ceHead] })).toThrow(/'fc1.weight' uses external data/);
  });

  it('names a missing logits tensor and the model outputs', () => {
    expect(() => compileTraining(mlp().model, { heads: [{ ...ceHead, logits: 'nope' }] })).toThrow(/logits 'nope' is not computed by the model \(its outputs: logits\)/);
  });

  it('refuses a model that already uses an output name the compiler reserves', () => {
    const m = mlp().model;
    m.graph!.node[1]!.output[0] = 'loss';
    m.graph!.node[2]!.input[0] = 'loss';
    expect(() => compileTraining(m, { heads: [ceHead] })).toThrow(CompileError);
  });

  it('refuses input gradients for a name that is not a float data input', () => {
    expect(() => compileTraining(mlp().model, { heads: [ceHead], inputGradients: ['fc1.weight'] })).toThrow(/not a data input/);
  });

  it('refuses `correct` without a cross-entropy head', () => {
    expect(() => compileTraining(mlp().model, { heads: [{ ...ceHead, loss: 'mse' }], correct: true })).toThrow(/needs a cross-entropy head/);
  });
});

describe('compileEval', () => {
  const fx = mlp();
  const opts: CompileOptions = { heads: [ceHead], correct: true };

  it('outputs loss sums that equal N times the training mean, and the same correct count', async () => {
    const g = compileTraining(fx.model, opts);
    const e = compileEval(fx.model, opts);
    expect(e.params).toEqual(g.params.map((p) => p.name));
    expect(e.model.graph!.output.map((o) => o.name)).toEqual(['loss', 'loss:out', 'normalizer:out', 'correct', 'logits']);
    const n = 9;
    const { feeds } = mlpBatch(g, n, 4);
    const weights = new Map(g.params.map((p) => [p.name, Rng.seeded(8).floats(p.init.length, -1, 1)]));
    const [ts, es] = [await session(g.model), await session(e.model)];
    const train = await ts.run({ ...feeds, ...weightFeeds(g, weights) });
    const ev = await es.run({ ...feeds, ...weightFeeds(g, weights) });
    expect(scalarOf(ev['loss'])).toBeCloseTo(n * scalarOf(train['loss']), 4);
    expect(scalarOf(ev['loss:out'])).toBeCloseTo(n * scalarOf(train['loss:out']), 4);
    expect(scalarOf(ev['correct'])).toBe(scalarOf(train['correct']));
    expect(ev['logits']!.dims).toEqual([n, 3]);
  });

  it('does not depend on the model object it was given', () => {
    const before = ModelProto.encode(fx.model).finish();
    compileEval(fx.model, opts);
    expect(Buffer.from(ModelProto.encode(fx.model).finish()).equals(Buffer.from(before))).toBe(true);
    expect(GraphProto.fromPartial(fx.model.graph!).node.length).toBe(4);
  });
});

describe('compileTraining with batch norm and dropout', () => {
  const fx = bnDropoutModel();
  const g = compileTraining(fx.model, { heads: [ceHead] });

  it('makes running statistics buffers with state outputs, BN scale/shift norm params, masks inputs', () => {
    expect(g.params.map((p) => `${p.name}:${p.kind}`)).toEqual(['fc1.weight:weight', 'fc1.bias:bias', 'bn.weight:norm', 'bn.bias:norm', 'fc2.weight:weight', 'fc2.bias:bias']);
    expect(g.buffers.map((buf) => [buf.name, buf.updated])).toEqual([
      ['bn.running_mean', 'state:bn.running_mean'],
      ['bn.running_var', 'state:bn.running_var'],
    ]);
    expect(g.dropoutMasks).toEqual([{ name: 'dropout_mask:drop_node', shape: ['N', 6], ratio: 0.25 }]);
    expect(g.model.graph!.input.map((v) => v.name)).toEqual(['x', 'labels', ...g.params.map((p) => p.name), 'bn.running_mean', 'bn.running_var', 'dropout_mask:drop_node']);
    expect(g.model.graph!.output.map((o) => o.name).slice(-2)).toEqual(['state:bn.running_mean', 'state:bn.running_var']);
  });

  it('gives gradients that match central differences with a fixed dropout mask', async () => {
    const n = 5;
    const { feeds } = mlpBatch(g, n, 13);
    const rng = Rng.seeded(17);
    const mask = Float32Array.from({ length: n * 6 }, () => (rng.int(0, 3) === 0 ? 0 : 1));
    expect(mask.includes(0)).toBe(true);
    const all = { ...feeds, ...weightFeeds(g), 'dropout_mask:drop_node': new ort.Tensor('float32', mask, [n, 6]) };
    const r = await centralDifferences(g, all, g.params.map((p) => ({ name: p.name, grad: p.grad })));
    expect(r.checked).toBe(24 + 6 + 6 + 6 + 18 + 3);
  });

  it('updates the running statistics with PyTorch semantics (unbiased batch variance)', async () => {
    const n = 4;
    const { x, feeds } = mlpBatch(g, n, 2);
    const s = await session(g.model);
    const out = await s.run({ ...feeds, ...weightFeeds(g), 'dropout_mask:drop_node': new ort.Tensor('float32', new Float32Array(n * 6).fill(1), [n, 6]) });
    const w = fx.values.get('fc1.weight')!;
    const bias = fx.values.get('fc1.bias')!;
    const rm = fx.values.get('bn.running_mean')!;
    const rv = fx.values.get('bn.running_var')!;
    const mean = out['state:bn.running_mean']!.data as Float32Array;
    const variance = out['state:bn.running_var']!.data as Float32Array;
    for (let c = 0; c < 6; c++) {
      const h = Array.from({ length: n }, (_, i) => bias[c]! + [0, 1, 2, 3].reduce((acc, k) => acc + x.data[i * 4 + k]! * w[c * 4 + k]!, 0));
      const m = h.reduce((a, v) => a + v, 0) / n;
      const unbiased = h.reduce((a, v) => a + (v - m) ** 2, 0) / (n - 1);
      expect(mean[c]).toBeCloseTo(0.9 * rm[c]! + 0.1 * m, 5);
      expect(variance[c]).toBeCloseTo(0.9 * rv[c]! + 0.1 * unbiased, 5);
    }
    await s.release();
  });

  // A worker feeds the same parameter and buffer memory to many runs: a run must only read it.
  it('leaves the fed params and buffers as they were', async () => {
    const n = 4;
    const feeds: Record<string, ort.Tensor> = { ...mlpBatch(g, n, 2).feeds, ...weightFeeds(g), 'dropout_mask:drop_node': new ort.Tensor('float32', new Float32Array(n * 6).fill(1), [n, 6]) };
    const before = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, Array.from(t.data as ArrayLike<number | bigint>, Number)]));
    const s = await session(g.model);
    await s.run(feeds);
    const changed = Object.keys(feeds).filter((k) => Array.from(feeds[k]!.data as ArrayLike<number | bigint>, Number).some((v, i) => v !== before[k]![i]));
    expect(changed).toEqual([]);
    await s.release();
  });

  it("with dropout 'native' needs no mask inputs and still differentiates", async () => {
    const native = compileTraining(fx.model, { heads: [ceHead], dropout: 'native' });
    expect(native.dropoutMasks).toEqual([]);
    expect(native.model.graph!.input.some((v) => v.name.startsWith('dropout_mask:'))).toBe(false);
    const s = await session(native.model);
    const out = await s.run({ ...mlpBatch(native, 6).feeds, ...weightFeeds(native) });
    for (const p of native.params) expect(Array.from(out[p.grad]!.data as Float32Array).every(Number.isFinite)).toBe(true);
    await s.release();
  });

  it('evaluates with running statistics and no dropout: loss sums do not depend on the batch split', async () => {
    const e = compileEval(fx.model, { heads: [ceHead] });
    expect(e.buffers).toEqual(['bn.running_mean', 'bn.running_var']);
    expect(e.model.graph!.input.map((v) => v.name)).toEqual(['x', 'labels', ...g.params.map((p) => p.name), 'bn.running_mean', 'bn.running_var']);
    const s = await session(e.model);
    const { x, labels } = mlpBatch(g, 6, 3);
    const part = async (from: number, to: number) =>
      scalarOf((await s.run({ x: new ort.Tensor('float32', x.data.slice(from * 4, to * 4), [to - from, 4]), labels: labelTensor(e.labels[0]!, labels.slice(from, to)), ...weightFeeds(g) }))['loss']);
    // Batch statistics would make each sample's loss depend on its batch-mates; running ones do not.
    expect((await part(0, 2)) + (await part(2, 6))).toBeCloseTo(await part(0, 6), 4);
    await s.release();
  });
});
