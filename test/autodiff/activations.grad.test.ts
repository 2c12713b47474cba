import { describe, it, expect } from 'vitest';
import { gradcheck, type GradCase } from '../helpers/gradcheck.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { GraphProto } from '../../shared/proto/gen/onnx.js';
import { valueInfo } from '../../shared/onnx/model.js';
import { DT } from '../../shared/onnx/tensor.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import { OnnxShapeError } from '../../shared/onnx/errors.js';
import type { AttrValue } from '../../shared/onnx/attributes.js';

/** Moves a value at least `margin` (> the finite-difference step) away from each kink. */
function offKinks(kinks: number[], margin = 0.05): (v: number) => number {
  return (v) => {
    for (const k of kinks) if (Math.abs(v - k) < margin) return k + (v >= k ? margin : -margin);
    return v;
  };
}

interface Row {
  label: string;
  op: string;
  attrs?: Record<string, AttrValue>;
  shape?: number[];
  lo?: number;
  hi?: number;
  opset?: number;
  avoid?: GradCase['avoid'];
}

const rows: Row[] = [
  { label: 'Relu', op: 'Relu', avoid: offKinks([0]) },
  { label: 'LeakyRelu with the default alpha', op: 'LeakyRelu', avoid: offKinks([0]) },
  { label: 'LeakyRelu with alpha 0.3', op: 'LeakyRelu', attrs: { alpha: { float: 0.3 } }, avoid: offKinks([0]) },
  { label: 'LeakyRelu with a negative alpha', op: 'LeakyRelu', attrs: { alpha: { float: -0.5 } }, avoid: offKinks([0]) },
  { label: 'Sigmoid', op: 'Sigmoid', lo: -4, hi: 4 },
  { label: 'Tanh', op: 'Tanh', lo: -2, hi: 2 },
  { label: 'Gelu (approximate none, opset 20)', op: 'Gelu', opset: 20, lo: -3, hi: 3 },
  { label: 'Gelu (approximate tanh, opset 20)', op: 'Gelu', attrs: { approximate: 'tanh' }, opset: 20, lo: -3, hi: 3 },
  { label: 'Elu with the default alpha', op: 'Elu', lo: -2, hi: 2, avoid: offKinks([0]) },
  { label: 'Elu with alpha 0.5', op: 'Elu', attrs: { alpha: { float: 0.5 } }, lo: -2, hi: 2, avoid: offKinks([0]) },
  { label: 'Softplus', op: 'Softplus', lo: -4, hi: 4 },
];

describe('activation gradient rules match central differences', () => {
  for (const row of rows) {
    it(row.label, async () => {
      const r = await gradcheck({
        inputs: [{ name: 'X', shape: row.shape ?? [3, 5], lo: row.lo, hi: row.hi }],
        build: (b, [x]) => [b.op(row.op, [x!], row.attrs ?? {})],
        opset: row.opset,
        avoid: row.avoid,
      });
      expect(r.checked).toBe(15);
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }

  it('Relu passes no gradient to negative inputs and all of it to positive ones', async () => {
    const values = [-2, -0.5, 0.5, 2];
    const r = await gradcheck({
      inputs: [{ name: 'X', shape: [4], values }],
      build: (b, [x]) => [b.op('Mul', [b.op('Relu', [x!]), b.floats([1, 2, 3, 4])])],
    });
    // loss = Σ relu(x)·w·R, so dX is 0 where x < 0.
    expect(r.analytic.X![0]).toBe(0);
    expect(r.analytic.X![1]).toBe(0);
    expect(r.analytic.X![2]).not.toBe(0);
    expect(r.analytic.X![3]).not.toBe(0);
  });
});

describe('the Erf expansion of GELU that the model builder emits at opset 17', () => {
  it('x·0.5·(1+erf(x/√2)) built from Mul/Div/Erf/Add passes gradcheck', async () => {
    const r = await gradcheck({
      inputs: [{ name: 'X', shape: [4, 6], lo: -3, hi: 3 }],
      opset: 17,
      build: (b, [x]) => {
        const erf = b.op('Erf', [b.op('Div', [x!, b.scalar(Math.SQRT2)])]);
        return [b.op('Mul', [b.op('Mul', [x!, b.scalar(0.5)]), b.op('Add', [b.scalar(1), erf])])];
      },
    });
    expect(r.checked).toBe(24);
    expect(r.maxAbsErr).toBeLessThan(5e-3);
  });

  it('gives the same gradient as the opset-20 Gelu op', async () => {
    const inputs = [{ name: 'X', shape: [4, 6], lo: -3, hi: 3 }];
    const expanded = await gradcheck({
      inputs,
      opset: 20,
      build: (b, [x]) => [b.op('Mul', [b.op('Mul', [x!, b.scalar(0.5)]), b.op('Add', [b.scalar(1), b.op('Erf', [b.op('Div', [x!, b.scalar(Math.SQRT2)])])])])],
    });
    const fused = await gradcheck({ inputs, opset: 20, build: (b, [x]) => [b.op('Gelu', [x!])] });
    for (let i = 0; i < 24; i++) expect(fused.analytic.X![i]).toBeCloseTo(expanded.analytic.X![i]!, 5);
  });
});

describe('activation shape rules', () => {
  function infer(op: string, attrs: Record<string, AttrValue>, opset: number) {
    const b = new GraphBuilder(['X']);
    const y = b.op(op, ['X'], attrs);
    const graph = GraphProto.fromPartial({ node: b.nodes, input: [valueInfo('X', DT.FLOAT, ['N', 7])] });
    return inferGraph(graph, opset).info.get(y);
  }

  it('keeps the input shape, batch symbol included', () => {
    for (const op of ['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Elu', 'Softplus']) expect(infer(op, {}, 17)).toEqual({ elemType: DT.FLOAT, shape: ['N', 7] });
    expect(infer('Gelu', { approximate: 'tanh' }, 20)).toEqual({ elemType: DT.FLOAT, shape: ['N', 7] });
  });

  it('rejects Gelu in a model older than opset 20, naming the opset', () => {
    expect(() => infer('Gelu', {}, 17)).toThrow(OnnxShapeError);
    expect(() => infer('Gelu', {}, 17)).toThrow(/opset-20 op but the model imports opset 17/);
  });

  it('rejects an unknown Gelu approximation', () => {
    expect(() => infer('Gelu', { approximate: 'fast' }, 20)).toThrow(/approximate must be 'none' or 'tanh', got 'fast'/);
  });
});
