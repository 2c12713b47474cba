import { describe, it, expect } from 'vitest';
import { gradcheck, type CaseInput } from '../helpers/gradcheck.js';
import { GraphProto } from '../../shared/proto/gen/onnx.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { valueInfo } from '../../shared/onnx/model.js';
import { DT } from '../../shared/onnx/tensor.js';
import type { Shape } from '../../shared/onnx/shapes.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import { ruleFor, type GradContext, type GradRule } from '../../shared/autodiff/registry.js';
import { GradientError } from '../../shared/autodiff/errors.js';
import { OnnxShapeError } from '../../shared/onnx/errors.js';
import { gradientsWithBatch } from './symbolic-batch.js';
import '../../shared/autodiff/rules/index.js';

/** Shape facts for a one-node graph whose inputs are declared with the given shapes. */
function inferOne(op: string, inputs: [string, Shape][], attrs: Record<string, number> = {}) {
  const b = new GraphBuilder(inputs.map(([n]) => n));
  const y = b.op(op, inputs.map(([n]) => n), attrs);
  const graph = GraphProto.fromPartial({ node: b.nodes, initializer: b.initializers, input: inputs.map(([n, s]) => valueInfo(n, DT.FLOAT, s)) });
  return { y, facts: inferGraph(graph, 17) };
}

describe('Gemm gradients match central differences', () => {
  // [label, transA, transB, alpha, beta, C shape or null]; op(A) is [M=3, K=4], op(B) is [K=4, N=5].
  const cases: [string, 0 | 1, 0 | 1, number, number, number[] | null][] = [
    ['plain, C [N]', 0, 0, 1, 1, [5]],
    ['transA, C [N]', 1, 0, 1, 1, [5]],
    ['transB, C [N]', 0, 1, 1, 1, [5]],
    ['transA and transB, C [N]', 1, 1, 1, 1, [5]],
    ['alpha 0.5, beta 2, C [M,N]', 0, 0, 0.5, 2, [3, 5]],
    ['C [1,N]', 0, 1, 1, 1, [1, 5]],
    ['C [M,1], alpha −1.5, beta 0.25, both transposed', 1, 1, -1.5, 0.25, [3, 1]],
    ['scalar C, beta 3', 1, 0, 1, 3, []],
    ['C [1,1], alpha 2', 0, 0, 2, 1, [1, 1]],
    ['no C, alpha 0.75, transB', 0, 1, 0.75, 1, null],
    ['no C, transA', 1, 0, 1, 1, null],
    ['beta 0 (C gets a zero gradient)', 0, 0, 1, 0, [3, 5]],
  ];
  for (const [label, transA, transB, alpha, beta, cShape] of cases) {
    it(`Gemm: ${label}`, async () => {
      const inputs: CaseInput[] = [
        { name: 'A', shape: transA ? [4, 3] : [3, 4] },
        { name: 'B', shape: transB ? [5, 4] : [4, 5] },
      ];
      if (cShape) inputs.push({ name: 'C', shape: cShape });
      const r = await gradcheck({
        inputs,
        build: (b, names) =>
          [b.op('Gemm', names, { transA, transB, alpha: alpha === 1 ? undefined : { float: alpha }, beta: beta === 1 ? undefined : { float: beta } })],
      });
      expect(r.checked).toBe(12 + 20 + (cShape ? cShape.reduce((a, d) => a * d, 1) : 0));
      expect(r.maxAbsErr).toBeLessThan(5e-3);
      if (cShape && beta === 0) expect(Array.from(r.analytic.C!).every((v) => v === 0)).toBe(true);
    });
  }

  it('Gemm: the backward graph also runs at opset 16 (transA, C [M,1])', async () => {
    const r = await gradcheck({
      inputs: [
        { name: 'A', shape: [4, 3] },
        { name: 'B', shape: [4, 5] },
        { name: 'C', shape: [3, 1] },
      ],
      build: (b, names) => [b.op('Gemm', names, { transA: 1, beta: { float: 0.5 } })],
      opset: 16,
    });
    expect(r.maxAbsErr).toBeLessThan(5e-3);
  });

  it('Gemm: infers [M, N] from the transposed operands and rejects a C that does not broadcast', () => {
    const { facts, y } = inferOne('Gemm', [['A', [4, 'N']], ['B', [7, 4]], ['C', [7]]], { transA: 1, transB: 1 });
    expect(facts.info.get(y)!.shape).toEqual(['N', 7]);
    expect(() => inferOne('Gemm', [['A', [3, 4]], ['B', [4, 5]], ['C', [4]]])).toThrow(OnnxShapeError);
    expect(() => inferOne('Gemm', [['A', [3, 4]], ['B', [3, 5]]])).toThrow(/inner dimensions/);
  });
});

describe('MatMul gradients match central differences', () => {
  const cases: [string, number[], number[]][] = [
    ['matrix · matrix', [3, 4], [4, 5]],
    ['batched · matrix', [2, 3, 4, 5], [5, 6]],
    ['batched · batch-broadcast', [3, 4, 5], [1, 5, 6]],
    ['matrix · batched (A broadcast)', [3, 4], [2, 4, 5]],
    ['both batch dims broadcast', [2, 1, 3, 4], [3, 4, 2]],
    ['vector · matrix', [4], [4, 5]],
    ['matrix · vector', [3, 4], [4]],
    ['vector · vector', [6], [6]],
    ['batched · vector', [2, 3, 4], [4]],
    ['vector · batched', [4], [2, 4, 3]],
  ];
  for (const [label, sa, sb] of cases) {
    it(`MatMul: ${label} [${sa}]·[${sb}]`, async () => {
      const r = await gradcheck({
        inputs: [
          { name: 'A', shape: sa },
          { name: 'B', shape: sb },
        ],
        build: (b, [a, bb]) => [b.op('MatMul', [a!, bb!])],
      });
      expect(r.checked).toBe(Math.min(48, sa.reduce((a, d) => a * d, 1)) + Math.min(48, sb.reduce((a, d) => a * d, 1)));
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }

  it('MatMul: the backward graph also runs at opset 16 (vector · batched, batched · matrix)', async () => {
    for (const [sa, sb] of [[[4], [2, 4, 3]], [[2, 3, 4], [4, 5]]]) {
      const r = await gradcheck({
        inputs: [
          { name: 'A', shape: sa! },
          { name: 'B', shape: sb! },
        ],
        build: (b, [a, bb]) => [b.op('MatMul', [a!, bb!])],
        opset: 16,
      });
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    }
  });

  it('MatMul: a symbolic batch dim gives the same gradients as the static graph', async () => {
    const sym = await gradientsWithBatch('MatMul', { A: ['N', 3, 4, 5], B: [5, 6] }, 2, {});
    const fixed = await gradientsWithBatch('MatMul', { A: [2, 3, 4, 5], B: [5, 6] }, 2, {});
    for (const name of ['A', 'B']) expect(maxDiff(sym[name]!, fixed[name]!)).toBeLessThan(1e-5);
  });

  it('MatMul: infers numpy shapes, symbolic batch dims included', () => {
    const shapeOf = (a: Shape, b: Shape) => {
      const { facts, y } = inferOne('MatMul', [['A', a], ['B', b]]);
      return facts.info.get(y)!.shape;
    };
    expect(shapeOf(['N', 3, 4, 5], [5, 6])).toEqual(['N', 3, 4, 6]);
    expect(shapeOf([3, 4, 5], [1, 5, 6])).toEqual([3, 4, 6]);
    expect(shapeOf([2, 1, 3, 4], [5, 4, 2])).toEqual([2, 5, 3, 2]);
    expect(shapeOf([4], [2, 4, 3])).toEqual([2, 3]);
    expect(shapeOf([2, 3, 4], [4])).toEqual([2, 3]);
    expect(shapeOf([6], [6])).toEqual([]);
    expect(() => shapeOf([3, 4], [5, 6])).toThrow(/inner dimensions/);
    expect(() => shapeOf([2, 3, 4], [3, 4, 5])).toThrow(/do not broadcast/);
  });

  it('MatMul: an operand of unknown rank fails with a GradientError that names it', () => {
    const b = new GraphBuilder(['A', 'B', 'dY']);
    const y = b.op('MatMul', ['A', 'B']);
    const graph = GraphProto.fromPartial({ node: b.nodes, input: [valueInfo('A', DT.FLOAT, [3, 4]), valueInfo('B', DT.FLOAT, undefined)] });
    const facts = inferGraph(graph, 17);
    expect(facts.info.get(y)!.shape).toBeUndefined();
    const node = graph.node[0]!;
    const ctx: GradContext = {
      node,
      b,
      opset: 17,
      x: (i) => node.input[i]!,
      y: (i) => node.output[i]!,
      dy: () => 'dY',
      needs: () => true,
      info: (name) => facts.info.get(name)!,
      constant: () => undefined,
    };
    const grad = ruleFor(node).grad as GradRule;
    expect(() => grad(ctx)).toThrow(GradientError);
    expect(() => grad(ctx)).toThrow(/ranks of both operands.*'B'/);
  });
});

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
