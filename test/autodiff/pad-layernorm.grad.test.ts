import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { gradcheck, type GradCase } from '../helpers/gradcheck.js';
import { inferenceMismatches } from './infer-check.js';
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

type Row = [string, GradCase];

/** Σ y², a scalar: lets a case whose output shape is only known at run time still enter the loss. */
function sumOfSquares(b: GraphBuilder, y: string): string {
  return b.op('ReduceSum', [b.op('Mul', [y, y])], { keepdims: 0 });
}

const padRows: Row[] = [
  ['Pad constant, positive pads on [2,3,4]', { inputs: [{ name: 'X', shape: [2, 3, 4] }], build: (b, [x]) => [b.op('Pad', [x!, b.ints([0, 1, 2, 1, 0, 1])], { mode: 'constant' })] }],
  ['Pad constant with constant_value 0.5', { inputs: [{ name: 'X', shape: [3, 4] }], build: (b, [x]) => [b.op('Pad', [x!, b.ints([1, 2, 2, 1]), b.scalar(0.5)], { mode: 'constant' })] }],
  ['Pad constant, negative pads crop (mixed signs)', { inputs: [{ name: 'X', shape: [3, 5] }], build: (b, [x]) => [b.op('Pad', [x!, b.ints([1, -1, 0, -2])])] }],
  [
    'Pad of zero width before AveragePool, as torch 1.13 exports AvgPool2d at opsets 13/14',
    { inputs: [{ name: 'X', shape: [2, 3, 4, 4] }], opset: 13, build: (b, [x]) => [b.op('AveragePool', [b.op('Pad', [x!, b.ints(new Array<number>(8).fill(0))], { mode: 'constant' })], { kernel_shape: [2, 2], strides: [2, 2] })] },
  ],
  [
    'Pad constant, pads only known at run time',
    {
      inputs: [
        { name: 'X', shape: [2, 3] },
        { name: 'P', shape: [4], type: 'int64', values: [1, 0, -1, 2] },
      ],
      build: (b, [x, p]) => [sumOfSquares(b, b.op('Pad', [x!, p!]))],
    },
  ],
  ['Pad constant with axes [-1] (opset 18)', { inputs: [{ name: 'X', shape: [2, 3, 4] }], opset: 18, build: (b, [x]) => [b.op('Pad', [x!, b.ints([2, 1]), '', b.ints([-1])])] }],
  ['Pad reflect', { inputs: [{ name: 'X', shape: [2, 3, 5] }], build: (b, [x]) => [b.op('Pad', [x!, b.ints([0, 1, 2, 0, 2, 3])], { mode: 'reflect' })] }],
  ['Pad edge, pads wider than the axis', { inputs: [{ name: 'X', shape: [2, 3, 2] }], build: (b, [x]) => [b.op('Pad', [x!, b.ints([1, 0, 3, 0, 4, 1])], { mode: 'edge' })] }],
  ['Pad edge with a negative pad', { inputs: [{ name: 'X', shape: [3, 4] }], build: (b, [x]) => [b.op('Pad', [x!, b.ints([2, -1, 0, 2])], { mode: 'edge' })] }],
  ['Pad wrap (opset 19)', { inputs: [{ name: 'X', shape: [2, 3] }], opset: 19, build: (b, [x]) => [b.op('Pad', [x!, b.ints([1, 2, 0, 2])], { mode: 'wrap' })] }],
];

/** X, Scale and (unless `bias` is false) B for a LayerNormalization normalising from `axis` on. */
function lnInputs(x: number[], axis: number, bias = true): GradCase['inputs'] {
  const normalised = x.slice(axis < 0 ? axis + x.length : axis);
  return [
    { name: 'X', shape: x, lo: -2, hi: 2 },
    { name: 'scale', shape: normalised, lo: 0.5, hi: 1.5 },
    ...(bias ? [{ name: 'bias', shape: normalised }] : []),
  ];
}

const layerNormRows: Row[] = [
  ['LayerNormalization [N,D], axis -1', { inputs: lnInputs([4, 6], -1), build: (b, names) => [b.op('LayerNormalization', names, { axis: -1 })] }],
  ['LayerNormalization [N,T,D], axis -1', { inputs: lnInputs([2, 3, 4], -1), build: (b, names) => [b.op('LayerNormalization', names, { axis: -1 })] }],
  ['LayerNormalization [N,T,D], axis 1', { inputs: lnInputs([2, 3, 4], 1), build: (b, names) => [b.op('LayerNormalization', names, { axis: 1 })] }],
  ['LayerNormalization [N,D], axis 1', { inputs: lnInputs([5, 4], 1), build: (b, names) => [b.op('LayerNormalization', names, { axis: 1 })] }],
  ['LayerNormalization [N,T,D], default axis, no bias, epsilon 1e-3', { inputs: lnInputs([3, 2, 5], -1, false), build: (b, names) => [b.op('LayerNormalization', names, { epsilon: { float: 1e-3 } })] }],
  [
    'LayerNormalization [N,T,D], axis 1, Mean and InvStdDev in the loss too',
    { inputs: lnInputs([2, 3, 4], 1), build: (b, names) => b.add('LayerNormalization', names, { axis: 1 }, 3) },
  ],
  [
    // Y is not in the loss: Scale gets an exact zero gradient.
    'LayerNormalization [N,T,D], axis -1, only InvStdDev in the loss',
    { inputs: lnInputs([2, 3, 4], -1, false), build: (b, names) => [b.add('LayerNormalization', names, {}, 3)[2]!] },
  ],
];

describe('Pad and LayerNormalization gradients match central differences', () => {
  // A group of a few values has a strongly curved normalisation: a smaller step keeps the
  // central difference's own error well under the tolerance.
  for (const [label, c] of [...padRows, ...layerNormRows.map(([l, c]): Row => [l, { eps: 3e-3, ...c }])]) {
    it(label, async () => {
      const r = await gradcheck({ maxChecks: 40, ...c });
      expect(r.checked).toBeGreaterThan(0);
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }

});

/** dX of Σ(Pad(X)·w) for fixed weights w, through the backward walk. */
async function padGradient(x: number[], pads: number[], mode: string, w: number[]): Promise<number[]> {
  const b = new GraphBuilder(['X']);
  const loss = b.op('ReduceSum', [b.op('Mul', [b.op('Pad', ['X', b.ints(pads)], { mode }), b.floats(w)])], { keepdims: 0 });
  const graph = GraphProto.fromPartial({ node: [...b.nodes], initializer: [...b.initializers], input: [valueInfo('X', DT.FLOAT, [x.length])] });
  const dx = backward({ graph, facts: inferGraph(graph, 17), opset: 17, loss, wrt: ['X'], b }).get('X')!;
  graph.node = [...b.nodes];
  graph.initializer = [...b.initializers];
  graph.output = [valueInfo(dx, DT.FLOAT, undefined)];
  const session = await ort.InferenceSession.create(encodeModel(makeModel(graph, 17)));
  const out = await session.run({ X: new ort.Tensor('float32', Float32Array.from(x), [x.length]) });
  return Array.from(out[dx]!.data as Float32Array);
}

describe('Pad gradients sum the output gradients of every copy of an element', () => {
  it('edge: [a b] padded 2 before and 1 after is [a a a b b]', async () => {
    expect(await padGradient([0.3, -0.7], [2, 1], 'edge', [1, 2, 3, 4, 5])).toEqual([1 + 2 + 3, 4 + 5]);
  });

  it('reflect: [a b c] padded 2 before and 1 after is [c b a b c b]', async () => {
    expect(await padGradient([0.3, -0.7, 1.1], [2, 1], 'reflect', [1, 2, 3, 4, 5, 6])).toEqual([3, 2 + 4 + 6, 1 + 5]);
  });

  it('constant: padded positions give nothing back, cropped elements get 0', async () => {
    // [a b c d] with pads [1, −2] is [0 a b]: dX = [w1, w2, 0, 0].
    expect(await padGradient([0.3, -0.7, 1.1, 2], [1, -2], 'constant', [5, 6, 7])).toEqual([6, 7, 0, 0]);
  });
});

describe('Pad refusals', () => {
  const padGraph = (mode: string, opset: number) => {
    const b = new GraphBuilder(['X']);
    const y = b.op('Pad', ['X', b.ints([1, 1, 1, 1])], { mode });
    const loss = b.op('ReduceSum', [y], { keepdims: 0 });
    const graph = GraphProto.fromPartial({ node: [...b.nodes], initializer: [...b.initializers], input: [valueInfo('X', DT.FLOAT, [3, 3])] });
    return () => backward({ graph, facts: inferGraph(graph, opset), opset, loss, wrt: ['X'], b });
  };

  it('names a mode it has no rule for', () => {
    expect(padGraph('circular', 17)).toThrow(GradientError);
    expect(padGraph('circular', 17)).toThrow(/mode 'circular'/);
  });

  it('needs opset 16 for the scatter-add of reflect and edge', () => {
    expect(padGraph('reflect', 13)).toThrow(/mode 'reflect'.*opset 16/);
    expect(padGraph('constant', 13)).not.toThrow();
  });
});

describe('Pad and LayerNormalization shape rules agree with onnxruntime', () => {
  const X = { name: 'X', declared: [2, 3, 4], shape: [2, 3, 4], type: 'float' as const, values: Array.from({ length: 24 }, (_, i) => i / 10) };
  const cases: [string, Parameters<typeof inferenceMismatches>[0]['build']][] = [
    ['Pad constant, edge and reflect with mixed pads', (b, [x]) => [b.op('Pad', [x!, b.ints([0, 1, -1, 1, 0, 2])]), b.op('Pad', [x!, b.ints([1, 0, 2, 0, 3, 0])], { mode: 'edge' }), b.op('Pad', [x!, b.ints([0, 2, 1, 0, 1, 2])], { mode: 'reflect' })]],
    [
      'LayerNormalization with Mean and InvStdDev, axes 1 and -1',
      (b, [x]) => [
        ...b.add('LayerNormalization', [x!, b.floats(new Array<number>(12).fill(1), [3, 4])], { axis: 1 }, 3),
        ...b.add('LayerNormalization', [x!, b.floats(new Array<number>(4).fill(1)), b.floats(new Array<number>(4).fill(0))], {}, 3),
      ],
    ],
  ];
  for (const [label, build] of cases) {
    it(label, async () => {
      expect(await inferenceMismatches({ inputs: [X], build })).toEqual([]);
    });
  }
});

/** Gradients of Σ(Y·R) + Σ(Mean·R') + Σ(InvStdDev·R'') w.r.t. X and Scale with X declared as `declared` and fed as `x`. */
async function layerNormGradients(declared: Shape, x: number[], axis: number): Promise<Record<string, number[]>> {
  const rng = Rng.seeded(5);
  const names = ['X', 'scale'];
  const normalised = x.slice(axis);
  const statsShape = x.map((d, i) => (i < axis ? d : 1));
  const count = (s: number[]) => s.reduce((a, d) => a * d, 1);
  const b = new GraphBuilder(names);
  const outs = b.add('LayerNormalization', names, { axis }, 3);
  const terms = outs.map((o, k) => {
    const shape = k === 0 ? x : statsShape;
    return b.op('ReduceSum', [b.op('Mul', [o, b.initializer(float32Tensor(`R${k}`, shape, rng.floats(count(shape))))])], { keepdims: 0 });
  });
  const loss = terms.slice(1).reduce((acc, t) => b.op('Add', [acc, t]), terms[0]!);
  const graph = GraphProto.fromPartial({ node: [...b.nodes], initializer: [...b.initializers], input: [valueInfo('X', DT.FLOAT, declared), valueInfo('scale', DT.FLOAT, normalised)] });
  const grads = backward({ graph, facts: inferGraph(graph, 17), opset: 17, loss, wrt: names, b });
  graph.node = [...b.nodes];
  graph.initializer = [...b.initializers];
  graph.output = names.map((w) => valueInfo(grads.get(w)!, DT.FLOAT, undefined));
  const session = await ort.InferenceSession.create(encodeModel(makeModel(graph, 17)));
  const out = await session.run({ X: new ort.Tensor('float32', rng.floats(count(x), -2, 2), x), scale: new ort.Tensor('float32', rng.floats(count(normalised), 0.5, 1.5), normalised) });
  return Object.fromEntries(names.map((w) => [w, Array.from(out[grads.get(w)!]!.data as Float32Array)]));
}

describe('LayerNormalization gradients with a symbolic batch dimension equal the static ones', () => {
  // axis 0 normalises over the symbolic batch itself: D is only known at run time.
  for (const axis of [0, 1]) {
    it(`LayerNormalization, axis ${axis}, all three outputs in the loss: X declared [N,3,4]`, async () => {
      const x = [2, 3, 4];
      const symbolic = await layerNormGradients(['N', 3, 4], x, axis);
      const fixed = await layerNormGradients(x, x, axis);
      for (const w of ['X', 'scale']) {
        expect(symbolic[w]!.length).toBe(fixed[w]!.length);
        symbolic[w]!.forEach((v, i) => expect(v).toBeCloseTo(fixed[w]![i]!, 5));
      }
    });
  }
});
