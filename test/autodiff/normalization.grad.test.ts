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
import { emitBatchNormTraining } from '../../shared/autodiff/rules/batch-stats.js';
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

/**
 * Training mode is never a BatchNormalization node by the time gradients are taken:
 * toTrainingMode writes it out in standard ops (emitBatchNormTraining), which the generic rules
 * differentiate. These rows check that expansion's gradients.
 */
interface TrainingCase {
  label: string;
  x: number[];
  epsilon?: number;
  opset?: number;
}

const trainingCases: TrainingCase[] = [
  { label: '[N,C]', x: [6, 3] },
  { label: '[N,C,H,W]', x: [3, 2, 3, 3] },
  { label: '[N,C,L], epsilon 1e-3', x: [4, 3, 5], epsilon: 1e-3 },
  { label: '[N,C,H,W] at opset 16', x: [3, 2, 2, 3], opset: 16 },
];

/** Inference mode: the BatchNormalization node itself, with the running statistics as constants. */
interface InferenceCase {
  label: string;
  x: number[];
  attrs: Attrs;
  opset?: number;
}

const inferenceCases: InferenceCase[] = [
  { label: '[N,C]', x: [6, 3], attrs: {} },
  { label: '[N,C,H,W]', x: [3, 2, 3, 3], attrs: { training_mode: 0 } },
  { label: '[N,C,H,W], epsilon 1e-2', x: [2, 3, 2, 4], attrs: { epsilon: { float: 1e-2 } } },
  { label: 'BatchNormalization-9 (opset 13)', x: [3, 2, 3, 3], attrs: {}, opset: 13 },
];

/** Y of training-mode batch norm over the inputs named X, scale, bias (as toTrainingMode writes it). */
function trainingBatchNorm(b: GraphBuilder, names: string[], rank: number, opset = 17, epsilon = 1e-5): string {
  return emitBatchNormTraining(b, opset, { x: names[0]!, rank, scale: names[1]!, bias: names[2]!, epsilon }).y;
}

describe('BatchNormalization gradients match central differences', () => {
  for (const c of trainingCases) {
    it(`BatchNormalization, training mode (standard ops): ${c.label}`, async () => {
      const r = await gradcheck({
        inputs: bnInputs(c.x).slice(0, 3),
        build: (b, names) => [trainingBatchNorm(b, names, c.x.length, c.opset, c.epsilon)],
        opset: c.opset,
        maxChecks: 40,
      });
      expect(r.checked).toBe(Math.min(40, c.x.reduce((a, d) => a * d, 1)) + 2 * c.x[1]!);
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }
  for (const c of inferenceCases) {
    it(`BatchNormalization, inference mode: ${c.label}`, async () => {
      const r = await gradcheck({
        inputs: bnInputs(c.x),
        build: (b, names) => [b.add('BatchNormalization', names, c.attrs, 1)[0]!],
        opset: c.opset,
        maxChecks: 40,
      });
      expect(r.checked).toBe(Math.min(40, c.x.reduce((a, d) => a * d, 1)) + 2 * c.x[1]!);
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }

  it('BatchNormalization: training and inference mode give different input gradients', async () => {
    const run = (build: (b: GraphBuilder, names: string[]) => string) => gradcheck({ inputs: bnInputs([4, 2, 3]), build: (b, names) => [build(b, names)], seed: 4 });
    const [train, infer] = await Promise.all([run((b, names) => trainingBatchNorm(b, names, 3)), run((b, names) => b.add('BatchNormalization', names, {}, 1)[0]!)]);
    // In training mode Σ_A dX = 0 per channel (the batch mean absorbs any shift); in inference mode it is not.
    const channelSum = (g: Float32Array, ch: number) => Array.from(g).filter((_, i) => Math.floor(i / 3) % 2 === ch).reduce((a, v) => a + v, 0);
    expect(Math.abs(channelSum(train.analytic['X']!, 0))).toBeLessThan(1e-5);
    expect(Math.abs(channelSum(infer.analytic['X']!, 0))).toBeGreaterThan(1e-2);
  });

  // onnxruntime's training-mode kernel writes into the running statistics it is fed; the
  // backward walk refuses such a node rather than leave it in a training graph.
  for (const [label, attrs, outputs, opset] of [
    ['BatchNormalization-15 with training_mode 1', { training_mode: 1 }, 3, 17],
    ['BatchNormalization-9 with five outputs', {}, 5, 13],
  ] as const) {
    it(`BatchNormalization: a training-mode node (${label}) left in the graph is refused, naming toTrainingMode`, () => {
      // Whether the loss reads Y or only the running-mean output, the node is refused the same way.
      for (const read of [0, 1]) {
        const b = new GraphBuilder(['X', 'scale', 'bias', 'mean', 'var']);
        const outs = b.add('BatchNormalization', ['X', 'scale', 'bias', 'mean', 'var'], attrs, outputs);
        const loss = b.op('ReduceSum', [outs[read]!], { keepdims: 0 });
        const input = ['X', 'scale', 'bias', 'mean', 'var'].map((n) => valueInfo(n, DT.FLOAT, n === 'X' ? [4, 2] : [2]));
        const graph = GraphProto.fromPartial({ node: [...b.nodes], input });
        const differentiate = () => backward({ graph, facts: inferGraph(graph, opset), opset, loss, wrt: ['X'], b });
        expect(differentiate).toThrow(GradientError);
        expect(differentiate).toThrow(/batch statistics.*toTrainingMode/);
      }
    });
  }
});

/** Gradients of Σ(Y·R) w.r.t. X, scale and bias with X declared as `declared` and fed as `x`; `training` picks the batch-statistics form. */
async function bnGradients(declared: Shape, x: number[], training: boolean): Promise<Record<string, number[]>> {
  const rng = Rng.seeded(21);
  const c = x[1]!;
  const names = ['X', 'scale', 'bias'];
  const b = new GraphBuilder([...names, 'mean', 'var']);
  let y: string;
  if (training) y = trainingBatchNorm(b, names, x.length);
  else {
    b.initializer(float32Tensor('mean', [c], rng.floats(c)));
    b.initializer(float32Tensor('var', [c], rng.floats(c, 0.5, 2)));
    y = b.add('BatchNormalization', [...names, 'mean', 'var'], {}, 1)[0]!;
  }
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
  for (const [label, training] of [['training mode (standard ops)', true], ['inference mode', false]] as const) {
    it(`BatchNormalization, ${label}: X declared [N,2,3,3]`, async () => {
      const x = [4, 2, 3, 3];
      const symbolic = await bnGradients(['N', 2, 3, 3], x, training);
      const fixed = await bnGradients(x, x, training);
      for (const w of ['X', 'scale', 'bias']) {
        expect(symbolic[w]!.length).toBe(fixed[w]!.length);
        symbolic[w]!.forEach((v, i) => expect(v).toBeCloseTo(fixed[w]![i]!, 6));
      }
    });
  }
});
