import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { gradcheck, type CaseInput } from '../helpers/gradcheck.js';
import { GraphProto } from '../../shared/proto/gen/onnx.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { encodeModel, makeModel, valueInfo } from '../../shared/onnx/model.js';
import { DT, float32Tensor } from '../../shared/onnx/tensor.js';
import type { Shape } from '../../shared/onnx/shapes.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import { backward } from '../../shared/autodiff/backward.js';
import { GradientError } from '../../shared/autodiff/errors.js';
import { Rng } from '../../shared/random.js';
import '../../shared/autodiff/rules/index.js';

type Attrs = Record<string, number | number[] | string | { float: number }>;

/** X, scale and bias are differentiated; the running statistics are constants (buffers). */
function bnInputs(x: number[]): CaseInput[] {
  const c = x[1]!;
  return [
    { name: 'X', shape: x, lo: -2, hi: 2 },
    { name: 'scale', shape: [c], lo: 0.5, hi: 1.5 },
    { name: 'bias', shape: [c] },
    { name: 'mean', shape: [c], lo: -0.5, hi: 0.5, constant: true },
    { name: 'var', shape: [c], lo: 0.5, hi: 2, constant: true },
  ];
}

interface BnCase {
  label: string;
  x: number[];
  attrs: Attrs;
  /** Outputs of the node: BatchNormalization-15 in training mode insists on three. */
  outputs: number;
  opset?: number;
}

const cases: BnCase[] = [
  { label: 'training mode, [N,C]', x: [6, 3], attrs: { training_mode: 1 }, outputs: 3 },
  { label: 'training mode, [N,C,H,W]', x: [3, 2, 3, 3], attrs: { training_mode: 1 }, outputs: 3 },
  { label: 'training mode, [N,C,L], epsilon 1e-3', x: [4, 3, 5], attrs: { training_mode: 1, epsilon: { float: 1e-3 } }, outputs: 3 },
  { label: 'training mode, BatchNormalization-9 (opset 13, five outputs)', x: [3, 2, 2, 3], attrs: {}, outputs: 5, opset: 13 },
  { label: 'inference mode, [N,C]', x: [6, 3], attrs: {}, outputs: 1 },
  { label: 'inference mode, [N,C,H,W]', x: [3, 2, 3, 3], attrs: { training_mode: 0 }, outputs: 1 },
  { label: 'inference mode, [N,C,H,W], epsilon 1e-2', x: [2, 3, 2, 4], attrs: { epsilon: { float: 1e-2 } }, outputs: 1 },
  { label: 'inference mode, BatchNormalization-9 (opset 13)', x: [3, 2, 3, 3], attrs: {}, outputs: 1, opset: 13 },
];

describe('BatchNormalization gradients match central differences', () => {
  for (const c of cases) {
    it(`BatchNormalization: ${c.label}`, async () => {
      const r = await gradcheck({
        inputs: bnInputs(c.x),
        build: (b, names) => [b.add('BatchNormalization', names, c.attrs, c.outputs)[0]!],
        opset: c.opset,
        maxChecks: 40,
      });
      expect(r.checked).toBe(Math.min(40, c.x.reduce((a, d) => a * d, 1)) + 2 * c.x[1]!);
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }

  it('BatchNormalization: training and inference mode give different input gradients', async () => {
    const run = (attrs: Attrs, outputs: number) => gradcheck({ inputs: bnInputs([4, 2, 3]), build: (b, names) => [b.add('BatchNormalization', names, attrs, outputs)[0]!], seed: 4 });
    const [train, infer] = await Promise.all([run({ training_mode: 1 }, 3), run({}, 1)]);
    // In training mode Σ_A dX = 0 per channel (the batch mean absorbs any shift); in inference mode it is not.
    const channelSum = (g: Float32Array, ch: number) => Array.from(g).filter((_, i) => Math.floor(i / 3) % 2 === ch).reduce((a, v) => a + v, 0);
    expect(Math.abs(channelSum(train.analytic['X']!, 0))).toBeLessThan(1e-5);
    expect(Math.abs(channelSum(infer.analytic['X']!, 0))).toBeGreaterThan(1e-2);
  });

  it('BatchNormalization: a loss on the running-statistics outputs alone is refused', () => {
    const b = new GraphBuilder(['X', 'scale', 'bias', 'mean', 'var']);
    const [, runningMean] = b.add('BatchNormalization', ['X', 'scale', 'bias', 'mean', 'var'], { training_mode: 1 }, 3);
    const loss = b.op('ReduceSum', [runningMean!], { keepdims: 0 });
    const graph = GraphProto.fromPartial({ node: [...b.nodes], input: ['X', 'scale', 'bias', 'mean', 'var'].map((n) => valueInfo(n, DT.FLOAT, n === 'X' ? [4, 2] : [2])) });
    expect(() => backward({ graph, facts: inferGraph(graph, 17), opset: 17, loss, wrt: ['X'], b })).toThrow(GradientError);
  });
});

/** Gradients of Σ(Y·R) w.r.t. X, scale and bias with X declared as `declared` and fed as `x`. */
async function bnGradients(declared: Shape, x: number[], attrs: Attrs, outputs: number): Promise<Record<string, number[]>> {
  const rng = Rng.seeded(21);
  const c = x[1]!;
  const names = ['X', 'scale', 'bias'];
  const b = new GraphBuilder([...names, 'mean', 'var']);
  b.initializer(float32Tensor('mean', [c], rng.floats(c)));
  b.initializer(float32Tensor('var', [c], rng.floats(c, 0.5, 2)));
  const y = b.add('BatchNormalization', [...names, 'mean', 'var'], attrs, outputs)[0]!;
  const n = x.reduce((a, d) => a * d, 1);
  const r = b.initializer(float32Tensor('R', x, rng.floats(n)));
  const loss = b.op('ReduceSum', [b.op('Mul', [y, r])], { keepdims: 0 });
  const inputs = [valueInfo('X', DT.FLOAT, declared), valueInfo('scale', DT.FLOAT, [c]), valueInfo('bias', DT.FLOAT, [c])];
  const graph = GraphProto.fromPartial({ node: [...b.nodes], initializer: [...b.initializers], input: inputs });
  const grads = backward({ graph, facts: inferGraph(graph, 17), opset: 17, loss, wrt: names, b });
  graph.node = [...b.nodes];
  graph.initializer = [...b.initializers];
  graph.output = names.map((w) => valueInfo(grads.get(w)!, DT.FLOAT, undefined));
  const session = await ort.InferenceSession.create(encodeModel(makeModel(graph, 17)));
  const out = await session.run({
    X: new ort.Tensor('float32', rng.floats(n, -2, 2), x),
    scale: new ort.Tensor('float32', rng.floats(c, 0.5, 1.5), [c]),
    bias: new ort.Tensor('float32', rng.floats(c), [c]),
  });
  return Object.fromEntries(names.map((w) => [w, Array.from(out[grads.get(w)!]!.data as Float32Array)]));
}

describe('BatchNormalization gradients with a symbolic batch dimension equal the static ones', () => {
  for (const [label, attrs, outputs] of [['training mode', { training_mode: 1 }, 3], ['inference mode', {}, 1]] as const) {
    it(`BatchNormalization, ${label}: X declared [N,2,3,3]`, async () => {
      const x = [4, 2, 3, 3];
      const symbolic = await bnGradients(['N', 2, 3, 3], x, attrs, outputs);
      const fixed = await bnGradients(x, x, attrs, outputs);
      for (const w of ['X', 'scale', 'bias']) {
        expect(symbolic[w]!.length).toBe(fixed[w]!.length);
        symbolic[w]!.forEach((v, i) => expect(v).toBeCloseTo(fixed[w]![i]!, 6));
      }
    });
  }
});
