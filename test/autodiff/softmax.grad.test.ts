import { describe, it, expect } from 'vitest';
import { gradcheck } from '../helpers/gradcheck.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { GraphProto } from '../../shared/proto/gen/onnx.js';
import { valueInfo } from '../../shared/onnx/model.js';
import { DT } from '../../shared/onnx/tensor.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import { backward } from '../../shared/autodiff/backward.js';
import { OnnxShapeError } from '../../shared/onnx/errors.js';
import { GradientError } from '../../shared/autodiff/errors.js';

const SHAPE = [2, 3, 4];

describe('softmax gradient rules match central differences on a [2,3,4] tensor', () => {
  for (const op of ['Softmax', 'LogSoftmax']) {
    for (const axis of [-1, 0, 1, undefined]) {
      it(`${op} over axis ${axis ?? 'default (-1)'}`, async () => {
        const r = await gradcheck({
          inputs: [{ name: 'X', shape: SHAPE, lo: -2, hi: 2 }],
          build: (b, [x]) => [b.op(op, [x!], { axis })],
        });
        expect(r.checked).toBe(24);
        expect(r.maxAbsErr).toBeLessThan(5e-3);
      });
    }
  }

  it('Softmax gradient sums to zero along the axis (softmax is shift-invariant)', async () => {
    const r = await gradcheck({
      inputs: [{ name: 'X', shape: SHAPE, lo: -2, hi: 2 }],
      build: (b, [x]) => [b.op('Softmax', [x!], { axis: 1 })],
    });
    const g = r.analytic.X!;
    for (let i = 0; i < 2; i++)
      for (let k = 0; k < 4; k++) {
        const s = [0, 1, 2].reduce((acc, j) => acc + g[i * 12 + j * 4 + k]!, 0);
        expect(Math.abs(s)).toBeLessThan(1e-6);
      }
  });
});

describe('softmax shape rules and opset checks', () => {
  function graphWith(op: string, axis: number) {
    const b = new GraphBuilder(['X']);
    const y = b.op(op, ['X'], { axis });
    const graph = GraphProto.fromPartial({ node: b.nodes, input: [valueInfo('X', DT.FLOAT, ['N', 3, 4])] });
    return { b, y, graph };
  }

  it('keeps the input shape, batch symbol included', () => {
    for (const op of ['Softmax', 'LogSoftmax']) {
      const { y, graph } = graphWith(op, 1);
      expect(inferGraph(graph, 17).info.get(y)).toEqual({ elemType: DT.FLOAT, shape: ['N', 3, 4] });
    }
  });

  it('rejects an axis outside the input rank, naming the node', () => {
    const { graph } = graphWith('Softmax', 3);
    expect(() => inferGraph(graph, 17)).toThrow(OnnxShapeError);
    expect(() => inferGraph(graph, 17)).toThrow(/axis 3 is out of range for an input of rank 3/);
  });

  it('refuses to differentiate the pre-opset-13 (coerced 2-D) semantics', () => {
    const { b, y, graph } = graphWith('LogSoftmax', 1);
    const loss = b.op('ReduceSum', [y], { keepdims: 0 });
    graph.node = [...b.nodes];
    graph.initializer = [...b.initializers];
    const facts = inferGraph(graph, 12);
    const walk = () => backward({ graph, facts, opset: 12, loss, wrt: ['X'], b });
    expect(walk).toThrow(GradientError);
    expect(walk).toThrow(/opset 12 coerces the input to 2-D/);
  });
});
