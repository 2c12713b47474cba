import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { GraphProto, TensorProto } from '../../shared/proto/gen/onnx.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { encodeModel, makeModel, valueInfo, DEFAULT_OPSET } from '../../shared/onnx/model.js';
import { DT, float32Tensor } from '../../shared/onnx/tensor.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import { backward } from '../../shared/autodiff/backward.js';
import { gradcheck, type CaseInput } from '../helpers/gradcheck.js';
import { Rng } from '../../shared/random.js';
import '../../shared/autodiff/rules/index.js';

/** Distinct values spaced 0.07 apart (well beyond the finite-difference step), shuffled. */
function spaced(n: number, seed: number): number[] {
  const v = Array.from({ length: n }, (_, i) => -1 + 0.07 * i);
  const rng = Rng.seeded(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return v;
}

/** d(Σ out·R)/d(wrt) for the graph `build` makes from float inputs, by our backward walk, run in onnxruntime. */
async function gradients(inputs: { name: string; dims: number[]; values: Float32Array }[], build: (b: GraphBuilder) => string, r: Float32Array): Promise<Map<string, Float32Array>> {
  const b = new GraphBuilder(inputs.map((i) => i.name));
  const out = build(b);
  const rName = b.initializer(float32Tensor(b.fresh('R'), [r.length], r));
  const loss = b.op('ReduceSum', [b.op('Mul', [b.op('Reshape', [out, b.ints([-1])]), rName])], { keepdims: 0 }, 'loss');
  const graph = GraphProto.fromPartial({ node: [...b.nodes], initializer: [...b.initializers], input: inputs.map((i) => valueInfo(i.name, DT.FLOAT, i.dims)) });
  const grads = backward({ graph, facts: inferGraph(graph, DEFAULT_OPSET), opset: DEFAULT_OPSET, loss, wrt: inputs.map((i) => i.name), b });
  graph.node = [...b.nodes];
  graph.initializer = [...b.initializers];
  graph.output = inputs.map((i) => valueInfo(grads.get(i.name)!, DT.FLOAT, i.dims));
  const session = await ort.InferenceSession.create(encodeModel(makeModel(graph, DEFAULT_OPSET)));
  try {
    const res = await session.run(Object.fromEntries(inputs.map((i) => [i.name, new ort.Tensor('float32', i.values, i.dims)])));
    return new Map(inputs.map((i) => [i.name, res[grads.get(i.name)!]!.data as Float32Array]));
  } finally {
    await session.release();
  }
}

describe('ReduceMax and ReduceMin gradients match central differences', () => {
  const X = (shape: number[], seed: number): CaseInput => ({ name: 'X', shape, values: spaced(shape.reduce((a, d) => a * d, 1), seed) });
  for (const op of ['ReduceMax', 'ReduceMin']) {
    const cases: [string, Record<string, number | number[]>][] = [
      ['axis 1, keepdims', { axes: [1], keepdims: 1 }],
      ['axes [0, 2], keepdims 0', { axes: [0, 2], keepdims: 0 }],
      ['all axes (none given), keepdims 0', { keepdims: 0 }],
    ];
    for (const [label, attrs] of cases) {
      it(`${op} over ${label}`, async () => {
        const r = await gradcheck({ inputs: [X([2, 3, 4], 3)], build: (b, [x]) => [b.op(op, [x!], attrs)] });
        expect(r.checked).toBe(24);
        expect(r.maxAbsErr).toBeLessThan(5e-3);
      });
    }
  }

  it('shares the gradient equally between tied extremes, as torch.amax', async () => {
    const x = Float32Array.of(1, 3, 3, 2, -1, 0, -1, -1);
    const g = await gradients([{ name: 'X', dims: [2, 4], values: x }], (b) => b.op('ReduceMax', ['X'], { axes: [1], keepdims: 0 }), Float32Array.of(1, 1));
    expect(g.get('X')).toEqual(Float32Array.of(0, 0.5, 0.5, 0, 0, 1, 0, 0));
    const m = await gradients([{ name: 'X', dims: [2, 4], values: x }], (b) => b.op('ReduceMin', ['X'], { axes: [1], keepdims: 0 }), Float32Array.of(1, 3));
    expect(m.get('X')).toEqual(Float32Array.of(1, 0, 0, 0, 1, 0, 1, 1));
  });
});

describe('Mod', () => {
  it('float Mod (fmod=1): dA = dY, dB = −dY·trunc(A/B), off the jumps at integer quotients', async () => {
    const r = await gradcheck({
      inputs: [
        { name: 'A', shape: [2, 3], values: [1.3, -2.45, 0.7, 3.2, -0.35, 5.1] },
        { name: 'B', shape: [2, 3], values: [0.6, 0.9, -1.1, 1.5, 0.8, -1.9] },
      ],
      build: (b, [a, bb]) => [b.op('Mod', [a!, bb!], { fmod: 1 })],
    });
    expect(r.checked).toBe(12);
    expect(r.maxAbsErr).toBeLessThan(5e-3);
  });

  it('integer Mod (fmod=0) takes the sign of the divisor, as Python, in int64 without overflow', async () => {
    const b = new GraphBuilder(['A', 'B']);
    b.add('Mod', ['A', 'B'], {}, ['Y']);
    const graph = GraphProto.fromPartial({ node: b.nodes, input: [valueInfo('A', DT.INT64, [4]), valueInfo('B', DT.INT64, [4])], output: [valueInfo('Y', DT.INT64, [4])] });
    expect(inferGraph(graph, DEFAULT_OPSET).info.get('Y')).toEqual({ elemType: DT.INT64, shape: [4] });
    const session = await ort.InferenceSession.create(encodeModel(makeModel(graph, DEFAULT_OPSET)));
    const big = 2147483646n * 2147483646n + 2147483646n; // a·x + b at its largest: < 2^62
    const res = await session.run({ A: new ort.Tensor('int64', BigInt64Array.of(7n, -7n, 7n, big), [4]), B: new ort.Tensor('int64', BigInt64Array.of(3n, 3n, -3n, 2147483647n), [4]) });
    expect(res['Y']!.data).toEqual(BigInt64Array.of(1n, 2n, -2n, big % 2147483647n));
    await session.release();
  });
});

describe('QuantizeLinear → DequantizeLinear: straight-through gradient', () => {
  it('passes dY unchanged to a per-channel fake-quantized weight whose scale is computed from it (max|W|/127)', async () => {
    const w = Rng.seeded(4).floats(12, -1, 1);
    const r = Rng.seeded(5).floats(12, -1, 1);
    const g = await gradients(
      [{ name: 'W', dims: [3, 4], values: w }],
      (b) => {
        const scale = b.op('Div', [b.op('ReduceMax', [b.op('Abs', ['W'])], { axes: [1], keepdims: 0 }), b.scalar(127)]);
        const zp = b.initializer(TensorProto.fromPartial({ name: b.fresh('zp'), dataType: DT.INT8, dims: [3], rawData: Buffer.alloc(3) }));
        return b.op('DequantizeLinear', [b.op('QuantizeLinear', ['W', scale, zp], { axis: 0 }), scale, zp], { axis: 0 });
      },
      r,
    );
    expect(g.get('W')).toEqual(r);
  });

  it('passes dY unchanged through DynamicQuantizeLinear → DequantizeLinear (its scale and zero point are constants)', async () => {
    const x = Rng.seeded(6).floats(10, -2, 3);
    const r = Rng.seeded(7).floats(10, -1, 1);
    const g = await gradients([{ name: 'X', dims: [2, 5], values: x }], (b) => b.op('DequantizeLinear', b.add('DynamicQuantizeLinear', ['X'], {}, 3)), r);
    expect(g.get('X')).toEqual(r);
  });
});
