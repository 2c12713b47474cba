import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { GraphProto, NodeProto } from '../../shared/proto/gen/onnx.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { encodeModel, makeModel, valueInfo, DEFAULT_OPSET } from '../../shared/onnx/model.js';
import { DT, int64Tensor } from '../../shared/onnx/tensor.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import { backward } from '../../shared/autodiff/backward.js';
import { ruleFor } from '../../shared/autodiff/registry.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { inferenceMismatches, type FedInput } from './infer-check.js';
import '../../shared/autodiff/rules/index.js';

/**
 * torch's `x.view(x.size(0), -1)`: Shape → Gather(0) → Unsqueeze → Concat(·, [-1]) → Reshape.
 * `constantNodes` writes the index and the -1 as Constant nodes with value_int / value_ints
 * attributes (as some exporters do) instead of initializers.
 */
function viewBatchFlat(b: GraphBuilder, x: string, constantNodes: boolean): string {
  const zero = constantNodes ? b.op('Constant', [], { value_int: 0 }) : b.ints([0], []);
  const minusOne = constantNodes ? b.op('Constant', [], { value_ints: [-1] }) : b.ints([-1]);
  const n = b.op('Gather', [b.op('Shape', [x]), zero], { axis: 0 });
  const target = b.op('Concat', [b.op('Unsqueeze', [n, b.ints([0])]), minusOne], { axis: 0 });
  return b.op('Reshape', [x, target]);
}

describe('shape inference through torch shape arithmetic', () => {
  for (const constantNodes of [false, true]) {
    it(`keeps rank 2 and the last dim 24 through Shape→Gather→Unsqueeze→Concat→Reshape on ['N',2,3,4]${constantNodes ? ' (Constant value_int/value_ints nodes)' : ''}`, () => {
      const b = new GraphBuilder(['X']);
      const y = viewBatchFlat(b, 'X', constantNodes);
      const graph = GraphProto.fromPartial({ node: b.nodes, initializer: b.initializers, input: [valueInfo('X', DT.FLOAT, ['N', 2, 3, 4])] });
      const facts = inferGraph(graph, DEFAULT_OPSET);
      expect(facts.info.get(y)).toEqual({ elemType: DT.FLOAT, shape: ['N', 24] });
      // The target itself stays partly symbolic rather than unknown.
      const target = graph.node.find((n) => n.opType === 'Reshape')!.input[1]!;
      expect(facts.info.get(target)?.dimValues).toEqual(['N', -1]);
    });
  }

  // torch 1.13 writes the -1 of view(x.size(0), -1) as a scalar Constant node and unsqueezes it:
  // its value reaches Unsqueeze only through the graph's constants, not through the input's info.
  it('keeps the -1 through Unsqueeze and Squeeze of Constant nodes, as torch 1.13 exports view(x.size(0), -1)', () => {
    const b = new GraphBuilder(['X']);
    const constant = (dims: number[], values: number[]) => b.add('Constant', [], { value: int64Tensor('', dims, values) }, 1)[0]!;
    const n = b.op('Gather', [b.op('Shape', ['X']), constant([], [0])], { axis: 0 });
    const minusOne = b.op('Unsqueeze', [constant([], [-1]), b.ints([0])]);
    const target = b.op('Concat', [b.op('Unsqueeze', [n, b.ints([0])]), minusOne], { axis: 0 });
    const y = b.op('Reshape', ['X', target]);
    const squeezed = b.op('Squeeze', [constant([1], [-1]), b.ints([0])]);
    const graph = GraphProto.fromPartial({ node: b.nodes, initializer: b.initializers, input: [valueInfo('X', DT.FLOAT, ['N', 2, 3, 4])] });
    const facts = inferGraph(graph, DEFAULT_OPSET);
    expect(facts.constants.get(minusOne)).toEqual([-1]);
    expect(facts.constants.get(squeezed)).toEqual([-1]);
    expect(facts.info.get(target)?.dimValues).toEqual(['N', -1]);
    expect(facts.info.get(y)?.shape).toEqual(['N', 24]);
  });

  it('folds Shape of a static tensor, and Flatten keeps a symbolic batch dim', () => {
    const b = new GraphBuilder(['X', 'S']);
    const s = b.op('Shape', ['S']);
    const f = b.op('Flatten', ['X'], { axis: 1 });
    const graph = GraphProto.fromPartial({ node: b.nodes, input: [valueInfo('X', DT.FLOAT, ['N', 2, 3, 4]), valueInfo('S', DT.FLOAT, [5, 7])] });
    const facts = inferGraph(graph, DEFAULT_OPSET);
    expect(facts.constants.get(s)).toEqual([5, 7]);
    expect(facts.info.get(f)?.shape).toEqual(['N', 24]);
  });

  it('differentiates through the view chain with a symbolic batch, for any batch size', async () => {
    const b = new GraphBuilder(['X', 'W']);
    const y = viewBatchFlat(b, 'X', false);
    const loss = b.op('ReduceSum', [b.op('Mul', [y, 'W'])], { keepdims: 0 });
    const graph = GraphProto.fromPartial({ node: b.nodes, initializer: b.initializers, input: [valueInfo('X', DT.FLOAT, ['N', 2, 3, 4]), valueInfo('W', DT.FLOAT, [24])] });
    const facts = inferGraph(graph, DEFAULT_OPSET);
    const grads = backward({ graph, facts, opset: DEFAULT_OPSET, loss, wrt: ['X', 'W'], b });
    graph.node = b.nodes;
    graph.initializer = b.initializers;
    graph.output = [valueInfo(grads.get('X')!, DT.FLOAT, undefined), valueInfo(grads.get('W')!, DT.FLOAT, undefined)];
    const session = await ort.InferenceSession.create(encodeModel(makeModel(graph, DEFAULT_OPSET)));
    const w = Float32Array.from({ length: 24 }, (_, i) => i / 10 - 1);
    for (const n of [3, 5]) {
      const x = Float32Array.from({ length: n * 24 }, (_, i) => ((i * 37) % 11) / 5 - 1);
      const out = await session.run({ X: new ort.Tensor('float32', x, [n, 2, 3, 4]), W: new ort.Tensor('float32', w, [24]) });
      // loss = Σ_n Σ_k X[n,k]·W[k] ⇒ dX[n,k] = W[k], dW[k] = Σ_n X[n,k]
      const dX = out[grads.get('X')!]!;
      expect(dX.dims).toEqual([n, 2, 3, 4]);
      for (let i = 0; i < n * 24; i++) expect(dX.data[i]).toBeCloseTo(w[i % 24]!, 6);
      const dW = out[grads.get('W')!]!.data as Float32Array;
      for (let k = 0; k < 24; k++) expect(dW[k]).toBeCloseTo(Array.from({ length: n }, (_, r) => x[r * 24 + k]!).reduce((p, v) => p + v, 0), 5);
    }
    await session.release();
  });
});

describe('ops without a gradient are constants to the backward walk', () => {
  // Row-wise distinct values 0.1 apart, so a ±eps step never changes an argmax.
  const distinct = Array.from({ length: 20 }, (_, i) => ((i * 7) % 20) / 10 - 1);

  it('Where on Equal(ArgMax(X), labels): X gets the gradient of the branch each row took', async () => {
    const r = await gradcheck({
      inputs: [
        { name: 'X', shape: [4, 5], values: distinct },
        { name: 'L', shape: [4, 1], type: 'int64', values: [3, 2, 0, 1], constant: true },
      ],
      build: (b, [x, l]) => {
        const hit = b.op('Equal', [b.op('ArgMax', [x!], { axis: 1, keepdims: 1 }), l!]);
        return [b.op('Where', [hit, x!, b.op('Mul', [x!, x!])])];
      },
    });
    expect(r.checked).toBe(20);
    expect(r.maxAbsErr).toBeLessThan(5e-3);
  });

  it('a loss that depends on X only through ArgMin, Less and Not gives X a zero gradient', async () => {
    const r = await gradcheck({
      inputs: [{ name: 'X', shape: [4, 5], values: distinct }],
      build: (b, [x]) => {
        const idx = b.op('Cast', [b.op('ArgMin', [x!], { axis: 0, keepdims: 0 })], { to: DT.FLOAT });
        const mask = b.op('Cast', [b.op('Not', [b.op('Less', [x!, b.scalar(0.05)])])], { to: DT.FLOAT });
        return [idx, mask];
      },
    });
    expect(Array.from(r.analytic.X!).every((v) => v === 0)).toBe(true);
  });

  it('every listed no-gradient op is registered with grad none', () => {
    const ops = ['Shape', 'Size', 'ConstantOfShape', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or', 'ArgMax', 'ArgMin', 'NonZero', 'Range', 'OneHot'];
    for (const op of ops) expect(ruleFor(NodeProto.fromPartial({ opType: op, name: op })).grad, op).toBe('none');
  });
});

describe('no-gradient shape rules agree with onnxruntime', () => {
  const X: FedInput = { name: 'X', declared: [3, 4], shape: [3, 4], type: 'float', values: [0, 1.5, -2, 0, 3, Number.NaN, 0.25, -1, 2, 2, 0, Number.POSITIVE_INFINITY] };
  const I: FedInput = { name: 'I', declared: [3], shape: [3], type: 'int64', values: [4, 0, 2] };
  type Build = Parameters<typeof inferenceMismatches>[0]['build'];
  const cases: [string, Build][] = [
    ['Shape (with start/end) and Size', (b, [x]) => [b.op('Shape', [x!]), b.op('Shape', [x!], { start: -1 }), b.op('Shape', [x!], { start: 1, end: 0 }), b.op('Size', [x!])]],
    ['ConstantOfShape with an int64 value and the float default', (b, [x]) => [b.op('ConstantOfShape', [b.ints([2, 3])], { value: int64Tensor('v', [1], [5]) }), b.op('ConstantOfShape', [b.op('Shape', [x!])])]],
    ['comparisons of a tensor with a broadcast row', (b, [x]) => ['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual'].map((op) => b.op(op, [x!, b.floats([0, 1.5, 0, -1])]))],
    ['comparisons and logic folded on constants', (b) => {
      const p = b.ints([1, 5, 3]);
      const q = b.ints([2, 5, 1]);
      const eq = b.op('Equal', [p, q]);
      const gt = b.op('Greater', [p, q]);
      return [eq, gt, b.op('LessOrEqual', [p, b.ints([3], [])]), b.op('Not', [eq]), b.op('And', [eq, gt]), b.op('Or', [eq, gt]), b.op('Xor', [eq, b.op('Not', [gt])])];
    }],
    ['IsNaN, IsInf, EyeLike', (b, [x]) => [b.op('IsNaN', [x!]), b.op('IsInf', [x!]), b.op('EyeLike', [b.op('Transpose', [x!])], { dtype: DT.INT64 })]],
    ['ArgMax and ArgMin', (b, [x]) => [b.op('ArgMax', [b.op('Where', [b.op('IsNaN', [x!]), b.scalar(0), x!])], { axis: 1, keepdims: 0 }), b.op('ArgMin', [x!], { axis: -2 })]],
    ['NonZero', (b, [x]) => [b.op('NonZero', [x!])]],
    ['Range folded, and from fed bounds', (b, [, i]) => [b.op('Range', [b.ints([0], []), b.ints([10], []), b.ints([3], [])]), b.op('Range', [b.floats([1], []), b.floats([2], []), b.floats([0.25], [])]), b.op('Range', [b.ints([0], []), b.op('Gather', [i!, b.ints([0], [])]), b.ints([1], [])])]],
    ['OneHot on the last and the first axis', (b, [, i]) => [b.op('OneHot', [i!, b.ints([5], []), b.floats([0, 1])]), b.op('OneHot', [i!, b.ints([6]), b.floats([-1, 2])], { axis: 0 })]],
    ['Constant in every numeric attribute form', (b) => [b.op('Constant', [], { value_float: { float: 2.5 } }), b.op('Constant', [], { value_floats: { floats: [1, -2] } }), b.op('Constant', [], { value_int: 7 }), b.op('Constant', [], { value_ints: [3, 4, 5] }), b.op('Constant', [], { value: int64Tensor('c', [2], [8, 9]) })]],
    ['random ops: shapes and types only', (b, [x]) => [b.op('RandomUniformLike', [x!]), b.op('RandomNormalLike', [x!], { dtype: DT.DOUBLE }), b.op('Bernoulli', [b.floats([0.2, 0.9])]), b.op('RandomNormal', [], { shape: [2, 5] }), b.op('RandomUniform', [], { shape: [3], dtype: DT.DOUBLE })]],
  ];
  for (const [label, build] of cases) {
    it(label, async () => {
      expect(await inferenceMismatches({ inputs: [X, I], build })).toEqual([]);
    });
  }
});
