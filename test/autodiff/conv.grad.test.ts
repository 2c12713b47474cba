import { describe, it, expect } from 'vitest';
import { gradcheck, type CaseInput } from '../helpers/gradcheck.js';
import { GraphProto } from '../../shared/proto/gen/onnx.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { valueInfo } from '../../shared/onnx/model.js';
import { DT } from '../../shared/onnx/tensor.js';
import type { Shape } from '../../shared/onnx/shapes.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import { backward } from '../../shared/autodiff/backward.js';
import { GradientError } from '../../shared/autodiff/errors.js';
import { OnnxShapeError } from '../../shared/onnx/errors.js';
import { gradientsWithBatch } from './symbolic-batch.js';
import '../../shared/autodiff/rules/index.js';

type ConvAttrs = Record<string, number | number[] | string>;

interface ConvCase {
  label: string;
  x: number[];
  w: number[];
  bias: boolean;
  attrs: ConvAttrs;
  /** Output shape the shape rule must infer (worked out by hand). */
  y: number[];
}

const cases: ConvCase[] = [
  { label: 'plain 3×3', x: [2, 4, 7, 6], w: [3, 4, 3, 3], bias: true, attrs: {}, y: [2, 3, 5, 4] },
  { label: '3×3, pad 1', x: [2, 4, 7, 6], w: [3, 4, 3, 3], bias: true, attrs: { pads: [1, 1, 1, 1] }, y: [2, 3, 7, 6] },
  { label: 'stride 2, pad 1', x: [2, 4, 7, 6], w: [3, 4, 3, 3], bias: true, attrs: { strides: [2, 2], pads: [1, 1, 1, 1] }, y: [2, 3, 4, 3] },
  // 8 + 0 − 3 = 5 is odd: the last row is reached by no window (output_padding 1 on that axis).
  { label: 'stride 2 leaving an unread last row', x: [2, 2, 8, 7], w: [3, 2, 3, 3], bias: true, attrs: { strides: [2, 2] }, y: [2, 3, 3, 3] },
  { label: 'asymmetric pads', x: [2, 4, 7, 6], w: [3, 4, 3, 3], bias: true, attrs: { pads: [0, 2, 1, 1] }, y: [2, 3, 6, 7] },
  { label: 'asymmetric pads with stride 2', x: [2, 3, 7, 6], w: [2, 3, 3, 3], bias: true, attrs: { pads: [2, 0, 0, 1], strides: [2, 2] }, y: [2, 2, 4, 3] },
  { label: 'dilation 2', x: [2, 4, 7, 6], w: [3, 4, 3, 3], bias: true, attrs: { dilations: [2, 2] }, y: [2, 3, 3, 2] },
  { label: 'dilation 2, stride 2, pad 2', x: [2, 2, 9, 8], w: [3, 2, 3, 3], bias: true, attrs: { dilations: [2, 2], strides: [2, 2], pads: [2, 2, 2, 2] }, y: [2, 3, 5, 4] },
  { label: 'groups 2', x: [2, 4, 7, 6], w: [6, 2, 3, 3], bias: true, attrs: { group: 2 }, y: [2, 6, 5, 4] },
  { label: 'groups 2, stride 2, pad 1', x: [2, 4, 7, 6], w: [4, 2, 3, 3], bias: true, attrs: { group: 2, strides: [2, 2], pads: [1, 1, 1, 1] }, y: [2, 4, 4, 3] },
  { label: 'depthwise (group = C)', x: [2, 4, 7, 6], w: [4, 1, 3, 3], bias: true, attrs: { group: 4, pads: [1, 1, 1, 1] }, y: [2, 4, 7, 6] },
  { label: 'depthwise, multiplier 2', x: [2, 3, 6, 5], w: [6, 1, 3, 3], bias: true, attrs: { group: 3 }, y: [2, 6, 4, 3] },
  { label: 'no bias', x: [2, 4, 7, 6], w: [3, 4, 3, 3], bias: false, attrs: { pads: [1, 1, 1, 1] }, y: [2, 3, 7, 6] },
  { label: '1×1', x: [2, 4, 7, 6], w: [5, 4, 1, 1], bias: true, attrs: {}, y: [2, 5, 7, 6] },
  { label: '1×1, stride 2', x: [2, 4, 7, 6], w: [5, 4, 1, 1], bias: false, attrs: { strides: [2, 2] }, y: [2, 5, 4, 3] },
  { label: 'non-square input and kernel', x: [2, 3, 5, 9], w: [2, 3, 2, 4], bias: true, attrs: { strides: [1, 2], pads: [1, 0, 0, 2] }, y: [2, 2, 5, 4] },
  { label: 'auto_pad VALID', x: [2, 3, 7, 6], w: [2, 3, 3, 2], bias: true, attrs: { auto_pad: 'VALID', strides: [2, 1] }, y: [2, 2, 3, 5] },
  { label: 'auto_pad SAME_UPPER, stride 2', x: [2, 3, 7, 6], w: [2, 3, 4, 3], bias: true, attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] }, y: [2, 2, 4, 3] },
  { label: 'auto_pad SAME_LOWER', x: [2, 3, 7, 6], w: [2, 3, 4, 2], bias: true, attrs: { auto_pad: 'SAME_LOWER' }, y: [2, 2, 7, 6] },
  { label: '1-D, stride 2, asymmetric pads', x: [2, 3, 11], w: [4, 3, 3], bias: true, attrs: { strides: [2], pads: [2, 1] }, y: [2, 4, 6] },
  { label: '1-D, dilation 3, groups 3', x: [2, 3, 12], w: [6, 1, 2], bias: true, attrs: { dilations: [3], group: 3 }, y: [2, 6, 9] },
  { label: '3-D, stride 2, pad 1', x: [1, 2, 5, 4, 3], w: [2, 2, 3, 2, 2], bias: true, attrs: { strides: [2, 2, 1], pads: [1, 0, 1, 1, 1, 0] }, y: [1, 2, 3, 2, 3] },
];

function convInputs(c: ConvCase): CaseInput[] {
  const inputs: CaseInput[] = [
    { name: 'X', shape: c.x },
    { name: 'W', shape: c.w },
  ];
  if (c.bias) inputs.push({ name: 'B', shape: [c.w[0]!] });
  return inputs;
}

describe('Conv gradients match central differences', () => {
  for (const c of cases) {
    it(`Conv: ${c.label}`, async () => {
      const b = new GraphBuilder(['X', 'W']);
      const y = b.op('Conv', ['X', 'W'], c.attrs);
      const graph = GraphProto.fromPartial({ node: b.nodes, input: [valueInfo('X', DT.FLOAT, c.x), valueInfo('W', DT.FLOAT, c.w)] });
      expect(inferGraph(graph, 17).info.get(y)!.shape).toEqual(c.y);
      const r = await gradcheck({
        inputs: convInputs(c),
        build: (b, names) => [b.op('Conv', names, c.attrs)],
        maxChecks: 40,
      });
      expect(r.checked).toBe(convInputs(c).reduce((n, i) => n + Math.min(40, i.shape.reduce((a, d) => a * d, 1)), 0));
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }

  it('Conv: the input gradient alone (weights frozen) needs no weight-gradient nodes', async () => {
    const r = await gradcheck({
      inputs: [
        { name: 'X', shape: [2, 4, 7, 6] },
        { name: 'W', shape: [4, 2, 3, 3], wrt: false },
      ],
      build: (b, names) => [b.op('Conv', names, { group: 2, strides: [2, 2], pads: [0, 1, 1, 0] })],
    });
    expect(Object.keys(r.analytic)).toEqual(['X']);
    expect(r.maxAbsErr).toBeLessThan(5e-3);
  });
  it('Conv: the backward graph also runs at opset 16 (groups, stride 2, asymmetric pads)', async () => {
    const r = await gradcheck({
      inputs: [
        { name: 'X', shape: [2, 4, 7, 6] },
        { name: 'W', shape: [4, 2, 3, 3] },
        { name: 'B', shape: [4] },
      ],
      build: (b, names) => [b.op('Conv', names, { group: 2, strides: [2, 2], pads: [2, 0, 0, 1] })],
      opset: 16,
      maxChecks: 40,
    });
    expect(r.maxAbsErr).toBeLessThan(5e-3);
  });
});

describe('Conv with a symbolic batch dim', () => {
  const symbolic: [string, number[], number[], ConvAttrs][] = [
    ['groups 2, stride 2, asymmetric pads', [3, 4, 7, 6], [4, 2, 3, 3], { group: 2, strides: [2, 2], pads: [0, 1, 2, 1] }],
    ['depthwise, dilation 2', [3, 4, 7, 6], [4, 1, 3, 3], { group: 4, dilations: [2, 2], pads: [2, 2, 2, 2] }],
    ['plain, SAME_UPPER', [3, 2, 6, 5], [3, 2, 3, 3], { auto_pad: 'SAME_UPPER', strides: [2, 2] }],
  ];
  for (const [label, x, w, attrs] of symbolic) {
    it(`Conv: ${label} gives the same gradients with X [N, ...] as with a static batch`, async () => {
      const n = x[0]!;
      const sym = await gradientsWithBatch('Conv', { X: ['N', ...x.slice(1)], W: w, B: [w[0]!] }, n, attrs);
      const fixed = await gradientsWithBatch('Conv', { X: x, W: w, B: [w[0]!] }, n, attrs);
      for (const name of ['X', 'W', 'B']) {
        const a = sym[name]!;
        const b = fixed[name]!;
        expect(a.length).toBe(b.length);
        expect(Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)))).toBeLessThan(1e-5);
      }
    });
  }
});

describe('Conv shape rule', () => {
  const infer = (x: Shape | undefined, w: Shape | undefined, attrs: ConvAttrs) => {
    const b = new GraphBuilder(['X', 'W']);
    const y = b.op('Conv', ['X', 'W'], attrs);
    const graph = GraphProto.fromPartial({ node: b.nodes, input: [valueInfo('X', DT.FLOAT, x), valueInfo('W', DT.FLOAT, w)] });
    return { y, graph, b, facts: inferGraph(graph, 17) };
  };
  const shapeOf = (x: Shape | undefined, w: Shape | undefined, attrs: ConvAttrs = {}) => {
    const { facts, y } = infer(x, w, attrs);
    return facts.info.get(y)!.shape;
  };

  it('computes ⌊(in + pads − dilated kernel) / stride⌋ + 1 per axis and keeps the batch dim symbolic', () => {
    expect(shapeOf(['N', 4, 7, 6], [3, 4, 3, 3])).toEqual(['N', 3, 5, 4]);
    expect(shapeOf(['N', 4, 7, 6], [3, 4, 3, 3], { strides: [2, 3], pads: [1, 0, 2, 1], dilations: [2, 1] })).toEqual(['N', 3, 3, 2]);
    expect(shapeOf(['N', 4, 7, 6], [8, 1, 3, 3], { group: 4, auto_pad: 'SAME_LOWER', strides: [2, 2] })).toEqual(['N', 8, 4, 3]);
    expect(shapeOf(['N', 4, 7, 6], [3, 4, 5, 1], { auto_pad: 'VALID', pads: [9, 9, 9, 9] })).toEqual(['N', 3, 3, 6]);
    expect(shapeOf(['N', 4, 'H', 6], [3, 4, 3, 3])).toEqual(['N', 3, '?', 4]);
    expect(shapeOf(['N', 3, 10], [2, 3, 4], { dilations: [2] })).toEqual(['N', 2, 4]);
    expect(shapeOf(undefined, [3, 4, 3, 3])).toEqual(['?', 3, '?', '?']);
  });

  it('rejects channel counts that do not fit the groups and kernels larger than the padded input', () => {
    expect(() => shapeOf([2, 4, 7, 6], [3, 3, 3, 3])).toThrow(OnnxShapeError);
    expect(() => shapeOf([2, 4, 7, 6], [3, 2, 3, 3], { group: 2 })).toThrow(/multiple of group/);
    expect(() => shapeOf([2, 4, 2, 6], [3, 4, 3, 3])).toThrow(/smaller than the dilated kernel/);
    expect(() => shapeOf([2, 4, 7, 6], [3, 4, 3, 3], { pads: [1, 1] })).toThrow(/pads has 2 values/);
  });

  it('fails with a GradientError when the spatial dims of X are not static', () => {
    const b = new GraphBuilder(['X', 'W']);
    const loss = b.op('ReduceSum', [b.op('Conv', ['X', 'W'], { pads: [1, 1, 1, 1] })], { keepdims: 0 });
    const graph = GraphProto.fromPartial({ node: b.nodes, input: [valueInfo('X', DT.FLOAT, ['N', 4, 'H', 'W']), valueInfo('W', DT.FLOAT, [3, 4, 3, 3])] });
    const attempt = () => backward({ graph, facts: inferGraph(graph, 17), opset: 17, loss, wrt: ['X', 'W'], b });
    expect(attempt).toThrow(GradientError);
    expect(attempt).toThrow(/spatial dims statically.*\[N,4,H,W\]/);
  });
});
