import { describe, it, expect } from 'vitest';
import { gradcheck } from '../helpers/gradcheck.js';
import { GraphProto } from '../../shared/proto/gen/onnx.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { valueInfo } from '../../shared/onnx/model.js';
import { DT } from '../../shared/onnx/tensor.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import { backward } from '../../shared/autodiff/backward.js';
import { GradientError } from '../../shared/autodiff/errors.js';
import { Rng } from '../../shared/random.js';
import { gradientsWithBatch } from './symbolic-batch.js';
import '../../shared/autodiff/rules/index.js';

type Attrs = Record<string, number | number[] | string>;

interface PoolCase {
  label: string;
  x: number[];
  attrs: Attrs;
  /** Output shape the shape rule must infer (worked out by hand). */
  y: number[];
}

/**
 * Distinct values 0.05 apart in a seeded order: every window has a unique maximum that stays the
 * maximum when one element moves by ±eps (1e-2), so central differences never cross a kink.
 */
function separatedValues(n: number, seed: number): number[] {
  const perm = Rng.seeded(seed).permutation(n);
  return Array.from(perm, (p) => (p - n / 2) * 0.05);
}

function inferredShape(op: string, x: number[], attrs: Attrs): unknown {
  const b = new GraphBuilder(['X']);
  const y = b.op(op, ['X'], attrs);
  return inferGraph(GraphProto.fromPartial({ node: b.nodes, input: [valueInfo('X', DT.FLOAT, x)] }), 17).info.get(y)!.shape;
}

const maxPoolCases: PoolCase[] = [
  { label: '2×2 stride 2', x: [2, 3, 6, 6], attrs: { kernel_shape: [2, 2], strides: [2, 2] }, y: [2, 3, 3, 3] },
  { label: '3×3 stride 1 (overlapping windows)', x: [2, 2, 5, 5], attrs: { kernel_shape: [3, 3] }, y: [2, 2, 3, 3] },
  { label: '3×3 stride 2, pad 1', x: [2, 2, 5, 5], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, y: [2, 2, 3, 3] },
  { label: 'asymmetric pads, stride 1', x: [1, 2, 4, 5], attrs: { kernel_shape: [2, 3], pads: [1, 0, 0, 2] }, y: [1, 2, 4, 5] },
  { label: '2×2 stride 2, ceil_mode', x: [1, 2, 5, 5], attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }, y: [1, 2, 3, 3] },
  { label: '3×3 stride 2, pad 1, ceil_mode', x: [1, 2, 6, 6], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }, y: [1, 2, 4, 4] },
  { label: 'dilation 2', x: [1, 2, 5, 6], attrs: { kernel_shape: [2, 2], dilations: [2, 2] }, y: [1, 2, 3, 4] },
  { label: 'auto_pad SAME_UPPER, stride 2', x: [1, 2, 5, 5], attrs: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' }, y: [1, 2, 3, 3] },
  { label: '1-D, stride 2, pad 1', x: [2, 3, 7], attrs: { kernel_shape: [3], strides: [2], pads: [1, 1] }, y: [2, 3, 4] },
];

const averagePoolCases: PoolCase[] = [
  { label: '2×2 stride 2', x: [2, 3, 6, 6], attrs: { kernel_shape: [2, 2], strides: [2, 2] }, y: [2, 3, 3, 3] },
  { label: '3×3 stride 1 (overlapping windows)', x: [2, 2, 5, 5], attrs: { kernel_shape: [3, 3] }, y: [2, 2, 3, 3] },
  { label: '3×3 stride 2, pad 1, count_include_pad 0', x: [2, 2, 5, 5], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 0 }, y: [2, 2, 3, 3] },
  { label: '3×3 stride 2, pad 1, count_include_pad 1', x: [2, 2, 5, 5], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 }, y: [2, 2, 3, 3] },
  { label: 'asymmetric pads, count_include_pad 0', x: [1, 2, 4, 5], attrs: { kernel_shape: [2, 3], pads: [1, 0, 0, 2] }, y: [1, 2, 4, 5] },
  { label: 'asymmetric pads, count_include_pad 1', x: [1, 2, 4, 5], attrs: { kernel_shape: [2, 3], pads: [1, 0, 0, 2], count_include_pad: 1 }, y: [1, 2, 4, 5] },
  { label: '2×2 stride 2, ceil_mode, count_include_pad 0', x: [1, 2, 5, 5], attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }, y: [1, 2, 3, 3] },
  { label: '2×2 stride 2, ceil_mode, count_include_pad 1', x: [1, 2, 5, 5], attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1, count_include_pad: 1 }, y: [1, 2, 3, 3] },
  { label: '3×3 stride 2, pad 1, ceil_mode, count_include_pad 1', x: [1, 2, 6, 6], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1, count_include_pad: 1 }, y: [1, 2, 4, 4] },
  { label: 'stride 2 leaving an unread last row', x: [1, 2, 6, 5], attrs: { kernel_shape: [3, 3], strides: [2, 2] }, y: [1, 2, 2, 2] },
  { label: 'auto_pad SAME_UPPER, stride 2', x: [1, 2, 5, 5], attrs: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' }, y: [1, 2, 3, 3] },
  { label: '1-D, stride 2, pad 1, count_include_pad 1', x: [2, 3, 7], attrs: { kernel_shape: [3], strides: [2], pads: [1, 1], count_include_pad: 1 }, y: [2, 3, 4] },
];

describe('MaxPool gradients match central differences', () => {
  for (const c of maxPoolCases) {
    it(`MaxPool: ${c.label}`, async () => {
      expect(inferredShape('MaxPool', c.x, c.attrs)).toEqual(c.y);
      const n = c.x.reduce((a, d) => a * d, 1);
      const r = await gradcheck({
        inputs: [{ name: 'X', shape: c.x, values: separatedValues(n, 3) }],
        build: (b, [x]) => [b.op('MaxPool', [x!], c.attrs)],
        maxChecks: 64,
      });
      expect(r.checked).toBe(Math.min(64, n));
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }

  it('MaxPool: overlapping windows that share a maximum add their gradients', async () => {
    // One large value in the middle of a 3×3 input is the maximum of all four 2×2 stride-1 windows.
    const values = [0.1, 0.2, 0.3, 0.4, 5, 0.5, 0.6, 0.7, 0.8];
    const r = await gradcheck({
      inputs: [{ name: 'X', shape: [1, 1, 3, 3], values }],
      build: (b, [x]) => [b.op('MaxPool', [x!], { kernel_shape: [2, 2] })],
    });
    const g = r.analytic['X']!;
    expect(Array.from(g).filter((v, i) => i !== 4 && v !== 0)).toEqual([]);
    expect(Math.abs(g[4]!)).toBeGreaterThan(0);
  });

  it('MaxPool: reuses the forward Indices output when the node has one', async () => {
    const attrs = { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] };
    const r = await gradcheck({
      inputs: [{ name: 'X', shape: [2, 2, 4, 4], values: separatedValues(64, 5) }],
      build: (b, [x]) => [b.add('MaxPool', [x!], attrs, 2)[0]!],
      maxChecks: 64,
    });
    expect(r.maxAbsErr).toBeLessThan(5e-3);

    const b = new GraphBuilder(['X']);
    b.add('MaxPool', ['X'], attrs, 2);
    const loss = b.op('ReduceSum', [b.nodes[0]!.output[0]!], { keepdims: 0 });
    const graph = GraphProto.fromPartial({ node: [...b.nodes], input: [valueInfo('X', DT.FLOAT, [2, 2, 4, 4])] });
    backward({ graph, facts: inferGraph(graph, 17), opset: 17, loss, wrt: ['X'], b });
    expect(b.nodes.filter((n) => n.opType === 'MaxPool')).toHaveLength(1);
  });

  it('MaxPool: storage_order 1 is refused with a GradientError', () => {
    const b = new GraphBuilder(['X']);
    const y = b.op('MaxPool', ['X'], { kernel_shape: [2, 2], storage_order: 1 });
    const loss = b.op('ReduceSum', [y], { keepdims: 0 });
    const graph = GraphProto.fromPartial({ node: [...b.nodes], input: [valueInfo('X', DT.FLOAT, [1, 1, 4, 4])] });
    expect(() => backward({ graph, facts: inferGraph(graph, 17), opset: 17, loss, wrt: ['X'], b })).toThrow(GradientError);
  });
});

describe('AveragePool gradients match central differences', () => {
  for (const c of averagePoolCases) {
    it(`AveragePool: ${c.label}`, async () => {
      expect(inferredShape('AveragePool', c.x, c.attrs)).toEqual(c.y);
      const n = c.x.reduce((a, d) => a * d, 1);
      const r = await gradcheck({
        inputs: [{ name: 'X', shape: c.x }],
        build: (b, [x]) => [b.op('AveragePool', [x!], c.attrs)],
        maxChecks: 64,
      });
      expect(r.checked).toBe(Math.min(64, n));
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }

  it('AveragePool: count_include_pad changes the gradient at the border', async () => {
    const attrs = { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] };
    const values = Array.from({ length: 25 }, (_, i) => i / 25);
    const [excl, incl] = await Promise.all(
      [0, 1].map((cip) => gradcheck({ inputs: [{ name: 'X', shape: [1, 1, 5, 5], values }], build: (b, [x]) => [b.op('AveragePool', [x!], { ...attrs, count_include_pad: cip })], seed: 9 })),
    );
    // The corner X[0,0] lies only in window (0,0): 4 real elements of 9, so 1/4 against 1/9 of the same dY.
    expect(excl!.analytic['X']![0]! / incl!.analytic['X']![0]!).toBeCloseTo(9 / 4, 4);
  });
});

describe('GlobalAveragePool gradients match central differences', () => {
  for (const x of [[2, 3, 4, 5], [3, 2, 7]]) {
    it(`GlobalAveragePool: [${x}]`, async () => {
      const r = await gradcheck({ inputs: [{ name: 'X', shape: x }], build: (b, [xn]) => [b.op('GlobalAveragePool', [xn!])], maxChecks: 64 });
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }
});

describe('pooling gradients with a symbolic batch dimension equal the static ones', () => {
  const rows: [string, number[], Attrs][] = [
    ['MaxPool', [3, 2, 5, 5], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }],
    ['AveragePool', [3, 2, 5, 5], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 0 }],
    ['GlobalAveragePool', [3, 2, 4, 5], {}],
  ];
  for (const [op, x, attrs] of rows) {
    it(`${op}: X declared [N,${x.slice(1)}]`, async () => {
      const symbolic = await gradientsWithBatch(op, { X: ['N', ...x.slice(1)] }, x[0]!, attrs);
      const fixed = await gradientsWithBatch(op, { X: x }, x[0]!, attrs);
      expect(Array.from(symbolic['X']!)).toEqual(Array.from(fixed['X']!));
    });
  }
});
