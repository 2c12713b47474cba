import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { GraphProto } from '../../shared/proto/gen/onnx.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { encodeModel, makeModel, valueInfo, DEFAULT_OPSET } from '../../shared/onnx/model.js';
import { DT } from '../../shared/onnx/tensor.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import { backward } from '../../shared/autodiff/backward.js';
import { emitLoss, type Reduction } from '../../shared/autodiff/losses.js';
import type { HeadSpec } from '../../shared/autodiff/compile-types.js';
import { CompileError } from '../../shared/autodiff/errors.js';
import '../../shared/autodiff/rules/index.js';
import { gradcheck } from '../helpers/gradcheck.js';

const head = (loss: HeadSpec['loss'], extra: Partial<HeadSpec> = {}): HeadSpec => ({ name: 'h', logits: 'x', labels: 'y', loss, ...extra });

/** Runs one loss on fixed logits/labels: its value, its normalizer and d(loss)/d(logits). */
async function runLoss(spec: HeadSpec, shape: number[], x: number[], y: number[], reduction: Reduction) {
  const b = new GraphBuilder(['x', 'y']);
  const classLabels = spec.loss === 'cross-entropy';
  const labelShape = classLabels ? shape.filter((_, i) => i !== 1) : shape;
  const { loss, normalizer } = emitLoss(b, spec, { name: 'x', elemType: DT.FLOAT, shape }, 'y', reduction);
  const inputs = [valueInfo('x', DT.FLOAT, shape), valueInfo('y', classLabels ? DT.INT64 : DT.FLOAT, labelShape)];
  const graph = GraphProto.fromPartial({ node: [...b.nodes], initializer: [...b.initializers], input: inputs });
  const grads = backward({ graph, facts: inferGraph(graph, DEFAULT_OPSET), opset: DEFAULT_OPSET, loss, wrt: ['x'], b });
  graph.node = [...b.nodes];
  graph.initializer = [...b.initializers];
  graph.output = [valueInfo(loss, DT.FLOAT, []), valueInfo(normalizer, DT.FLOAT, []), valueInfo(grads.get('x')!, DT.FLOAT, shape)];
  const session = await ort.InferenceSession.create(encodeModel(makeModel(graph)));
  const out = await session.run({
    x: new ort.Tensor('float32', Float32Array.from(x), shape),
    y: classLabels ? new ort.Tensor('int64', BigInt64Array.from(y.map(BigInt)), labelShape) : new ort.Tensor('float32', Float32Array.from(y), labelShape),
  });
  return { loss: out[loss]!.data[0] as number, normalizer: out[normalizer]!.data[0] as number, grad: Array.from(out[grads.get('x')!]!.data as Float32Array) };
}

/**
 * torch.nn.CrossEntropyLoss(weight, label_smoothing) for logits [N, C], written as PyTorch
 * computes it (aten cross_entropy_loss_label_smoothing): a weighted NLL term plus a smoothing
 * term, both divided by Σ w_{y_i} for 'mean'. An independent formulation of what losses.ts does.
 */
function torchCrossEntropy(x: number[][], y: number[], eps: number, w: number[] | undefined, reduction: Reduction): number {
  const C = x[0]!.length;
  const wt = w ?? Array<number>(C).fill(1);
  let nll = 0;
  let smooth = 0;
  let norm = 0;
  x.forEach((row, i) => {
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    const logp = row.map((v) => v - lse);
    nll += -wt[y[i]!]! * logp[y[i]!]!;
    smooth += -logp.reduce((s, v, c) => s + wt[c]! * v, 0);
    norm += wt[y[i]!]!;
  });
  const d = reduction === 'mean' ? norm : 1;
  return (1 - eps) * (nll / d) + (eps / C) * (smooth / d);
}

describe('loss gradients match central differences', () => {
  const ce = (extra: Partial<HeadSpec>, shape = [4, 5], reduction: Reduction = 'mean') => ({ extra, shape, reduction });
  const classCases: [string, ReturnType<typeof ce>][] = [
    ['cross-entropy, mean', ce({})],
    ['cross-entropy, sum', ce({}, [4, 5], 'sum')],
    ['cross-entropy, label smoothing 0.1', ce({ labelSmoothing: 0.1 })],
    ['cross-entropy, class weights', ce({ classWeights: [0.5, 2, 1, 3, 0.25] })],
    ['cross-entropy, smoothing 0.2 and class weights', ce({ labelSmoothing: 0.2, classWeights: [0.5, 2, 1, 3, 0.25] })],
    ['cross-entropy, class weights, sum', ce({ classWeights: [0.5, 2, 1, 3, 0.25] }, [4, 5], 'sum')],
    ['cross-entropy over [N, C, d] logits', ce({ labelSmoothing: 0.1 }, [2, 3, 4])],
  ];
  for (const [label, c] of classCases) {
    it(label, async () => {
      const labelShape = c.shape.filter((_, i) => i !== 1);
      const r = await gradcheck({
        inputs: [
          { name: 'x', shape: c.shape, lo: -2, hi: 2 },
          { name: 'y', shape: labelShape, type: 'int64', hi: c.shape[1]! },
        ],
        build: (b, [x, y]) => [emitLoss(b, head('cross-entropy', c.extra), { name: x!, elemType: DT.FLOAT, shape: c.shape }, y!, c.reduction).loss],
      });
      expect(r.checked).toBe(c.shape.reduce((a, d) => a * d, 1));
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }

  const elementCases: [string, HeadSpec['loss'], Reduction, { lo: number; hi: number }][] = [
    ['mse, mean', 'mse', 'mean', { lo: -1, hi: 1 }],
    ['mse, sum', 'mse', 'sum', { lo: -1, hi: 1 }],
    ['bce with logits, mean', 'bce', 'mean', { lo: 0, hi: 1 }],
    ['bce with logits, sum', 'bce', 'sum', { lo: 0, hi: 1 }],
  ];
  for (const [label, loss, reduction, target] of elementCases) {
    it(label, async () => {
      const r = await gradcheck({
        inputs: [
          { name: 'x', shape: [4, 3], lo: -3, hi: 3 },
          { name: 'y', shape: [4, 3], ...target, wrt: false },
        ],
        // |x| has a kink at 0: keep the points a step away from it.
        avoid: (v) => (Math.abs(v) < 0.05 ? 0.05 : v),
        build: (b, [x, y]) => [emitLoss(b, head(loss), { name: x!, elemType: DT.FLOAT, shape: [4, 3] }, y!, reduction).loss],
      });
      expect(r.checked).toBe(12);
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }
});

describe('loss values match hand-computed numbers', () => {
  const logits = [
    [1, 2, 3],
    [1, 1, 1],
  ];
  const labels = [2, 0];

  it('cross-entropy: mean of −log softmax at the label, gradient (softmax − onehot)/N', async () => {
    // l0 = log(1 + e⁻¹ + e⁻²) = 0.40760596, l1 = log 3 = 1.09861229
    const r = await runLoss(head('cross-entropy'), [2, 3], logits.flat(), labels, 'mean');
    expect(r.loss).toBeCloseTo(0.75310912, 6);
    expect(r.normalizer).toBe(2);
    const want = [0.0450153, 0.1223642, -0.1673795, -1 / 3, 1 / 6, 1 / 6];
    r.grad.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 6));
  });

  it('cross-entropy with reduction sum is the mean times the label count', async () => {
    const r = await runLoss(head('cross-entropy'), [2, 3], logits.flat(), labels, 'sum');
    expect(r.loss).toBeCloseTo(2 * 0.75310912, 6);
  });

  it('cross-entropy with label smoothing 0.1: 0.9·nll + 0.1/C·Σ_c(−logp)', async () => {
    // smoothing term: (4.22281788 + 3.29583687)/2 = 3.75932738 ⇒ 0.9·0.75310912 + 0.1/3·3.75932738
    const r = await runLoss(head('cross-entropy', { labelSmoothing: 0.1 }), [2, 3], logits.flat(), labels, 'mean');
    expect(r.loss).toBeCloseTo(0.80310912, 6);
    expect(r.loss).toBeCloseTo(torchCrossEntropy(logits, labels, 0.1, undefined, 'mean'), 6);
  });

  it('cross-entropy with class weights: the weighted mean divides by Σ w_{y_i}', async () => {
    // (0.5·0.40760596 + 2·1.09861229) / (0.5 + 2)
    const w = [2, 1, 0.5];
    const r = await runLoss(head('cross-entropy', { classWeights: w }), [2, 3], logits.flat(), labels, 'mean');
    expect(r.loss).toBeCloseTo(0.96041102, 6);
    expect(r.normalizer).toBeCloseTo(2.5, 6);
  });

  it('cross-entropy with smoothing and class weights matches PyTorch\'s formula on random data', async () => {
    const x = [
      [0.3, -1.2, 2.2, 0.7],
      [-0.4, 0.1, 0.9, -2.0],
      [1.5, 1.4, -0.3, 0.2],
    ];
    const y = [3, 0, 1];
    const w = [0.2, 1.5, 0.7, 3];
    for (const reduction of ['mean', 'sum'] as const) {
      const r = await runLoss(head('cross-entropy', { labelSmoothing: 0.25, classWeights: w }), [3, 4], x.flat(), y, reduction);
      expect(r.loss).toBeCloseTo(torchCrossEntropy(x, y, 0.25, w, reduction), 5);
    }
  });

  it('mse: mean over all elements, gradient 2(x − y)/numel', async () => {
    const r = await runLoss(head('mse'), [2, 2], [1, 2, 3, 4], [0, 2, 5, 4.5], 'mean');
    expect(r.loss).toBeCloseTo(1.3125, 6);
    expect(r.normalizer).toBe(4);
    [0.5, 0, -1, -0.25].forEach((want, i) => expect(r.grad[i]).toBeCloseTo(want, 6));
  });

  it('bce with logits: stable at ±100, gradient σ(x) − y (also exactly at x = 0)', async () => {
    // ℓ = softplus(x) − x·y: log 2, softplus(2), softplus(3), ≈0, ≈0, 100
    const r = await runLoss(head('bce'), [2, 3], [0, 2, -3, 100, -100, -100], [1, 0, 1, 1, 0, 1], 'mean');
    expect(r.loss).toBeCloseTo(105.86866254 / 6, 4);
    expect(r.normalizer).toBe(6);
    const want = [-0.5, 0.88079708, -0.95257413, 0, 0, -1].map((v) => v / 6);
    r.grad.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 6));
  });
});

describe('loss options are checked', () => {
  const emit = (spec: HeadSpec, shape: (number | string)[]) => emitLoss(new GraphBuilder(['x', 'y']), spec, { name: 'x', elemType: DT.FLOAT, shape }, 'y', 'mean');

  it('rejects class weights of the wrong length, naming both counts', () => {
    expect(() => emit(head('cross-entropy', { classWeights: [1, 2] }), ['N', 3])).toThrow(/classWeights has 2 entries, the logits have 3 classes/);
  });
  it('rejects label smoothing outside [0, 1]', () => {
    expect(() => emit(head('cross-entropy', { labelSmoothing: 1.5 }), ['N', 3])).toThrow(CompileError);
  });
  it('rejects a class axis of unknown size', () => {
    expect(() => emit(head('cross-entropy'), ['N', 'C'])).toThrow(/class axis/);
  });
  it('rejects cross-entropy options on an mse head', () => {
    expect(() => emit(head('mse', { labelSmoothing: 0.1 }), ['N', 3])).toThrow(/cross-entropy only/);
  });
});
