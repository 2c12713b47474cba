import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { gradcheck } from '../helpers/gradcheck.js';
import { GraphProto, type NodeProto } from '../../shared/proto/gen/onnx.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { encodeModel, makeModel, valueInfo } from '../../shared/onnx/model.js';
import { DT, boolTensor, float32Tensor } from '../../shared/onnx/tensor.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import { backward } from '../../shared/autodiff/backward.js';
import { CompileError, GradientError } from '../../shared/autodiff/errors.js';
import { toTrainingMode } from '../../shared/autodiff/training-mode.js';
import { Rng } from '../../shared/random.js';
import '../../shared/autodiff/rules/index.js';

/** Appends a Dropout node named `name` reading X and the given ratio / training_mode tensors. */
function dropoutNode(b: GraphBuilder, name: string, inputs: string[], outputs = 1): string[] {
  const outs = b.add('Dropout', inputs, {}, outputs);
  (b.nodes[b.nodes.length - 1] as NodeProto).name = name;
  return outs;
}

/** A graph over the builder's own node and initializer objects (fromPartial would copy them). */
function graphOf(b: GraphBuilder, input: ReturnType<typeof valueInfo>[]): GraphProto {
  const graph = GraphProto.fromPartial({ input });
  graph.node = [...b.nodes];
  graph.initializer = [...b.initializers];
  return graph;
}

/** Runs dX of loss = Σ(Y·R) for `graph` (whose nodes b already holds), also returning Y and the BOOL tensors `extra`. */
async function runWithGradient(graph: GraphProto, b: GraphBuilder, y: string, shape: number[], r: Float32Array, extra: string[], feeds: Record<string, ort.Tensor>) {
  const rName = b.initializer(float32Tensor('R', shape, r));
  const loss = b.op('ReduceSum', [b.op('Mul', [y, rName])], { keepdims: 0 });
  const appendNew = () => {
    graph.node.push(...b.nodes.filter((n) => !graph.node.includes(n)));
    graph.initializer.push(...b.initializers.filter((t) => !graph.initializer.includes(t)));
  };
  appendNew();
  const grads = backward({ graph, facts: inferGraph(graph, 17), opset: 17, loss, wrt: ['X'], b });
  appendNew();
  graph.output = [...[grads.get('X')!, y].map((o) => valueInfo(o, DT.FLOAT, undefined)), ...extra.map((o) => valueInfo(o, DT.BOOL, undefined))];
  const session = await ort.InferenceSession.create(encodeModel(makeModel(graph, 17)));
  const out = await session.run(feeds);
  return { dx: out[grads.get('X')!]!.data as Float32Array, y: out[y]!.data as Float32Array, extra: extra.map((e) => out[e]!.data) };
}

/** Indices where `actual` differs from `expected` (±0 count as equal). */
function mismatches(actual: ArrayLike<number>, expected: (i: number) => number): number[] {
  const bad: number[] = [];
  for (let i = 0; i < actual.length; i++) if (actual[i] !== expected(i)) bad.push(i);
  return bad;
}

describe("Dropout in 'mask-input' mode", () => {
  it('gradients of Y = (X·M)/(1−p) match central differences with the mask fed as a constant', async () => {
    const shape = [4, 5];
    const mask = Array.from({ length: 20 }, (_, i) => ((i * 7) % 3 === 0 ? 0 : 1));
    let recorded: unknown;
    const r = await gradcheck({
      inputs: [
        { name: 'X', shape },
        { name: 'dropout_mask:drop', shape, values: mask, constant: true },
      ],
      build: (b, [x]) => {
        const [y] = dropoutNode(b, 'drop', [x!, b.scalar(0.3)]);
        const graph = GraphProto.fromPartial({ node: [...b.nodes], initializer: b.initializers.filter((t) => !t.name.startsWith('dropout_mask:')), input: [valueInfo('X', DT.FLOAT, shape)] });
        recorded = toTrainingMode(graph, b, { dropout: 'mask-input' }).masks;
        expect(graph.node.map((n) => n.opType)).toEqual(['Mul', 'Div']);
        expect(graph.input.map((v) => v.name)).toEqual(['X', 'dropout_mask:drop']);
        b.nodes.splice(0, b.nodes.length, ...graph.node);
        return [y!];
      },
    });
    expect(recorded).toEqual([{ input: 'dropout_mask:drop', of: 'X', ratio: Math.fround(0.3), node: 'drop' }]);
    expect(r.maxAbsErr).toBeLessThan(5e-3);
    const g = r.analytic['X']!;
    mask.forEach((m, i) => expect(g[i] === 0).toBe(m === 0));
  });

  it('computes bit for bit what the native kernel computes, given the mask the kernel drew', async () => {
    const shape = [8, 24];
    const x = Rng.seeded(8).floats(8 * 24);
    const forward = async (dropout: 'native' | 'mask-input', mask?: Float32Array) => {
      const b = new GraphBuilder(['X']);
      const [y] = dropoutNode(b, 'drop', ['X', b.scalar(0.35)]);
      const graph = graphOf(b, [valueInfo('X', DT.FLOAT, shape)]);
      toTrainingMode(graph, b, { dropout });
      const maskOut = graph.node.find((n) => n.opType === 'Dropout')?.output[1];
      graph.output = [valueInfo(y!, DT.FLOAT, shape), ...(maskOut ? [valueInfo(maskOut, DT.BOOL, shape)] : [])];
      const session = await ort.InferenceSession.create(encodeModel(makeModel(graph, 17)));
      const feeds: Record<string, ort.Tensor> = { X: new ort.Tensor('float32', x, shape) };
      if (mask) feeds['dropout_mask:drop'] = new ort.Tensor('float32', mask, shape);
      const out = await session.run(feeds);
      return { y: out[y!]!.data as Float32Array, mask: maskOut ? Float32Array.from(out[maskOut]!.data as Uint8Array) : undefined };
    };
    const native = await forward('native');
    const masked = await forward('mask-input', native.mask);
    expect(mismatches(masked.y, (i) => native.y[i]!)).toEqual([]);
  });

  it('declares the mask input with the dropped tensor’s shape, symbolic batch included', () => {
    const b = new GraphBuilder(['X']);
    dropoutNode(b, 'd1', ['X', b.scalar(0.25)]);
    const graph = GraphProto.fromPartial({ node: [...b.nodes], initializer: [...b.initializers], input: [valueInfo('X', DT.FLOAT, ['N', 8])] });
    toTrainingMode(graph, b, { dropout: 'mask-input' });
    const maskInput = graph.input.find((v) => v.name === 'dropout_mask:d1')!;
    expect(maskInput.type!.tensorType!.shape!.dim.map((d) => d.dimParam || d.dimValue)).toEqual(['N', 8]);
  });

  it('refuses a ratio computed in the graph, naming the node', () => {
    const b = new GraphBuilder(['X', 'p']);
    dropoutNode(b, 'd1', ['X', 'p']);
    const graph = GraphProto.fromPartial({ node: [...b.nodes], input: [valueInfo('X', DT.FLOAT, [2, 3]), valueInfo('p', DT.FLOAT, [])] });
    expect(() => toTrainingMode(graph, b, { dropout: 'mask-input' })).toThrow(CompileError);
    expect(() => toTrainingMode(graph, b, { dropout: 'mask-input' })).toThrow(/Dropout node 'd1'.*constant ratio/);
  });

  it('refuses a ratio outside [0, 1)', () => {
    const b = new GraphBuilder(['X']);
    dropoutNode(b, 'd1', ['X', b.scalar(1)]);
    const graph = GraphProto.fromPartial({ node: [...b.nodes], initializer: [...b.initializers], input: [valueInfo('X', DT.FLOAT, [2, 3])] });
    expect(() => toTrainingMode(graph, b, { dropout: 'mask-input' })).toThrow(/must be a scalar in \[0, 1\)/);
  });
});

describe("Dropout in 'native' mode", () => {
  it('dX equals dY·mask/(1−p) exactly, with the mask onnxruntime drew in the forward pass', async () => {
    const shape = [16, 32];
    const n = 16 * 32;
    const b = new GraphBuilder(['X']);
    const [y] = dropoutNode(b, 'drop', ['X', b.scalar(0.3)]);
    const graph = graphOf(b, [valueInfo('X', DT.FLOAT, shape)]);
    const rewrite = toTrainingMode(graph, b, { dropout: 'native' });
    expect(rewrite).toEqual({ masks: [], stateUpdates: [] });
    const drop = graph.node.find((nd) => nd.opType === 'Dropout')!;
    expect(drop.input).toHaveLength(3);
    expect(drop.output).toHaveLength(2);

    const rng = Rng.seeded(5);
    const x = rng.floats(n);
    const r = rng.floats(n);
    const out = await runWithGradient(graph, b, y!, shape, r, [drop.output[1]!], { X: new ort.Tensor('float32', x, shape) });
    const mask = out.extra[0] as Uint8Array;
    // 1−p in float32, as onnxruntime's kernel computes it; dY·mask is exact, so one rounding remains.
    const keep = Math.fround(1 - Math.fround(0.3));
    expect(mismatches(out.dx, (i) => (mask[i] ? Math.fround(r[i]! / keep) : 0))).toEqual([]);
    expect(mismatches(out.y, (i) => (mask[i] ? Math.fround(x[i]! / keep) : 0))).toEqual([]);
    const kept = mask.reduce((a, m) => a + m, 0);
    expect(kept / n).toBeGreaterThan(0.6);
    expect(kept / n).toBeLessThan(0.8);
  });

  it('handles torch’s training export form (ratio and training_mode from Constant nodes)', async () => {
    const b = new GraphBuilder(['X']);
    const [p] = b.add('Constant', [], { value: float32Tensor('', [], [0.5]) }, 1);
    const [t] = b.add('Constant', [], { value: boolTensor('', [], [true]) }, 1);
    const [y] = dropoutNode(b, 'drop', ['X', p!, t!], 2);
    const graph = graphOf(b, [valueInfo('X', DT.FLOAT, [8, 8])]);
    toTrainingMode(graph, b, { dropout: 'native' });
    const x = Rng.seeded(2).floats(64);
    const r = Rng.seeded(3).floats(64);
    const drop = graph.node.find((nd) => nd.opType === 'Dropout')!;
    const out = await runWithGradient(graph, b, y!, [8, 8], r, [drop.output[1]!], { X: new ort.Tensor('float32', x, [8, 8]) });
    const mask = out.extra[0] as Uint8Array;
    expect(mismatches(out.dx, (i) => (mask[i] ? Math.fround(r[i]! / 0.5) : 0))).toEqual([]);
    expect(new Set(mask)).toEqual(new Set([0, 1]));
  });
});

describe('Dropout in inference mode is the identity', () => {
  for (const [label, training] of [['training_mode omitted', undefined], ['training_mode a constant false', false]] as const) {
    it(`gradients match central differences (${label})`, async () => {
      const r = await gradcheck({
        inputs: [{ name: 'X', shape: [3, 4] }],
        build: (b, [x]) => {
          const inputs = [x!, b.scalar(0.4)];
          if (training !== undefined) inputs.push(b.initializer(boolTensor(b.fresh('training'), [], [training])));
          return [dropoutNode(b, 'drop', inputs)[0]!];
        },
      });
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }
});

describe('Dropout gradient rule errors', () => {
  function lossOver(build: (b: GraphBuilder) => string, inputs = [valueInfo('X', DT.FLOAT, [2, 3])]) {
    const b = new GraphBuilder(['X', 'train']);
    const y = build(b);
    const loss = b.op('ReduceSum', [y], { keepdims: 0 });
    const graph = GraphProto.fromPartial({ node: [...b.nodes], initializer: [...b.initializers], input: inputs });
    return () => backward({ graph, facts: inferGraph(graph, 17), opset: 17, loss, wrt: ['X'], b });
  }

  it('training mode without a mask output is refused with a GradientError', () => {
    const run = lossOver((b) => dropoutNode(b, 'drop', ['X', b.scalar(0.5), b.initializer(boolTensor('on', [], [true]))])[0]!);
    expect(run).toThrow(GradientError);
    expect(run).toThrow(/mask output/);
  });

  it('a training_mode that is not a constant is refused with a GradientError', () => {
    const run = lossOver((b) => dropoutNode(b, 'drop', ['X', b.scalar(0.5), 'train'], 2)[0]!, [valueInfo('X', DT.FLOAT, [2, 3]), valueInfo('train', DT.BOOL, [])]);
    expect(run).toThrow(/training_mode \('train'\) must be a constant/);
  });
});
