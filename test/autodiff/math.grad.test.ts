import { describe, it, expect } from 'vitest';
import { gradcheck, type CaseInput, type GradCase } from '../helpers/gradcheck.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { GraphProto, NodeProto } from '../../shared/proto/gen/onnx.js';
import { valueInfo } from '../../shared/onnx/model.js';
import { DT, float32Tensor } from '../../shared/onnx/tensor.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import { ruleFor } from '../../shared/autodiff/registry.js';

/** Moves a value at least `margin` (> the finite-difference step) away from each kink. */
function offKinks(kinks: number[], margin = 0.05): (v: number) => number {
  return (v) => {
    for (const k of kinks) if (Math.abs(v - k) < margin) return k + (v >= k ? margin : -margin);
    return v;
  };
}

interface Row {
  label: string;
  /** Input X first; further inputs are the op's other (non-differentiated) inputs. */
  inputs: CaseInput[];
  build: GradCase['build'];
  avoid?: GradCase['avoid'];
}

const X = (shape: number[], lo = -1, hi = 1): CaseInput => ({ name: 'X', shape, lo, hi });
const unary = (op: string) => (b: GraphBuilder, [x]: string[]) => [b.op(op, [x!])];
const scalarConst = (name: string, v: number): CaseInput => ({ name, shape: [], values: [v], constant: true });

const rows: Row[] = [
  { label: 'Neg', inputs: [X([3, 4])], build: unary('Neg') },
  { label: 'Exp', inputs: [X([3, 4], -2, 2)], build: unary('Exp') },
  { label: 'Log of positive inputs', inputs: [X([3, 4], 0.3, 3)], build: unary('Log') },
  { label: 'Sqrt of positive inputs', inputs: [X([3, 4], 0.3, 3)], build: unary('Sqrt') },
  { label: 'Erf', inputs: [X([3, 4], -2, 2)], build: unary('Erf') },
  { label: 'Reciprocal of both signs', inputs: [X([3, 4], -2, 2)], build: unary('Reciprocal'), avoid: offKinks([0], 0.4) },
  { label: 'Abs', inputs: [X([3, 4])], build: unary('Abs'), avoid: offKinks([0]) },
  // Pow: constant scalar exponents take the folded path, tensor exponents the run-time one.
  ...[2, 3, 0.5].map((e): Row => ({
    label: `Pow with constant exponent ${e} (positive bases)`,
    inputs: [X([3, 4], 0.3, 2), scalarConst('E', e)],
    build: (b, [x, ex]) => [b.op('Pow', [x!, ex!])],
  })),
  {
    label: 'Pow with exponent 3 fed as a graph input (run-time path)',
    inputs: [X([3, 4], -1.5, 1.5), { name: 'E', shape: [], values: [3], wrt: false }],
    build: (b, [x, ex]) => [b.op('Pow', [x!, ex!])],
  },
  {
    label: 'Pow with an exponent tensor broadcast over the base: [2,3,4] ^ [3,1]',
    inputs: [X([2, 3, 4], 0.3, 2), { name: 'E', shape: [3, 1], lo: 0.5, hi: 3, wrt: false }],
    build: (b, [x, ex]) => [b.op('Pow', [x!, ex!])],
  },
  {
    label: 'Pow whose exponent broadcasts the base up: [3,1] ^ [2,3,4] (gradient summed back)',
    inputs: [X([3, 1], 0.3, 2), { name: 'E', shape: [2, 3, 4], lo: 0.5, hi: 3, wrt: false }],
    build: (b, [x, ex]) => [b.op('Pow', [x!, ex!])],
  },
  {
    label: 'Pow with an int64 exponent tensor',
    inputs: [X([3, 4], -1.5, 1.5), { name: 'E', shape: [4], type: 'int64', values: [1, 2, 3, 4] }],
    build: (b, [x, ex]) => [b.op('Pow', [x!, ex!])],
  },
  {
    label: 'Clip with min only',
    inputs: [X([3, 5]), scalarConst('lo', -0.3)],
    build: (b, [x, lo]) => [b.op('Clip', [x!, lo!])],
    avoid: offKinks([-0.3]),
  },
  {
    label: 'Clip with max only (min omitted as "")',
    inputs: [X([3, 5]), scalarConst('hi', 0.4)],
    build: (b, [x, hi]) => [b.op('Clip', [x!, '', hi!])],
    avoid: offKinks([0.4]),
  },
  {
    label: 'Clip with min and max',
    inputs: [X([3, 5]), scalarConst('lo', -0.3), scalarConst('hi', 0.4)],
    build: (b, [x, lo, hi]) => [b.op('Clip', [x!, lo!, hi!])],
    avoid: offKinks([-0.3, 0.4]),
  },
];

describe('math gradient rules match central differences', () => {
  for (const row of rows) {
    it(row.label, async () => {
      const r = await gradcheck({ inputs: row.inputs, build: row.build, avoid: row.avoid });
      const n = row.inputs[0]!.shape.reduce((a, d) => a * d, 1);
      expect(r.checked).toBe(n);
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }

  it('Clip passes the gradient strictly inside its bounds and none outside', async () => {
    const values = [-0.9, -0.1, 0.2, 0.9];
    const r = await gradcheck({
      inputs: [{ name: 'X', shape: [4], values }, scalarConst('lo', -0.3), scalarConst('hi', 0.4)],
      build: (b, [x, lo, hi]) => [b.op('Mul', [b.op('Clip', [x!, lo!, hi!]), b.floats([1, 1, 1, 1])])],
    });
    const g = r.analytic.X!;
    expect([g[0], g[3]]).toEqual([0, 0]);
    expect(g[1]).not.toBe(0);
    expect(g[2]).not.toBe(0);
  });
});

describe('math rule contracts', () => {
  it('marks Pow’s exponent and Clip’s bounds as never differentiated', () => {
    const node = (opType: string) => NodeProto.fromPartial({ opType, name: opType });
    expect(ruleFor(node('Pow')).nondiff).toEqual([1]);
    expect(ruleFor(node('Clip')).nondiff).toEqual([1, 2]);
  });

  it('infers Pow’s broadcast shape and keeps the input shape for the others', () => {
    const b = new GraphBuilder(['X', 'E']);
    const p = b.op('Pow', ['X', 'E']);
    const outs = ['Neg', 'Exp', 'Log', 'Sqrt', 'Erf', 'Reciprocal', 'Abs'].map((op) => b.op(op, ['X']));
    const c = b.op('Clip', ['X', '', b.scalar(1)]);
    const graph = GraphProto.fromPartial({
      node: b.nodes,
      initializer: [...b.initializers, float32Tensor('E', [3, 1, 1], [1, 2, 3])],
      input: [valueInfo('X', DT.FLOAT, ['N', 4])],
    });
    const info = inferGraph(graph, 17).info;
    expect(info.get(p)?.shape).toEqual([3, 'N', 4]);
    for (const o of [...outs, c]) expect(info.get(o)).toEqual({ elemType: DT.FLOAT, shape: ['N', 4] });
  });
});
