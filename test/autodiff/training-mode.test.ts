import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { GraphProto, type NodeProto } from '../../shared/proto/gen/onnx.js';
import { GraphBuilder } from '../../shared/onnx/builder.js';
import { encodeModel, makeModel, valueInfo } from '../../shared/onnx/model.js';
import { DT, boolTensor, float32Tensor } from '../../shared/onnx/tensor.js';
import type { Shape } from '../../shared/onnx/shapes.js';
import { inferGraph } from '../../shared/autodiff/infer.js';
import { backward } from '../../shared/autodiff/backward.js';
import { CompileError } from '../../shared/autodiff/errors.js';
import { toEvalMode, toTrainingMode } from '../../shared/autodiff/training-mode.js';
import { Rng } from '../../shared/random.js';
import '../../shared/autodiff/rules/index.js';

type Attrs = Record<string, number | { float: number }>;

/** A graph over the builder's own node and initializer objects (fromPartial would copy them). */
function graphOf(b: GraphBuilder, input: ReturnType<typeof valueInfo>[]): GraphProto {
  const graph = GraphProto.fromPartial({ input });
  graph.node = [...b.nodes];
  graph.initializer = [...b.initializers];
  return graph;
}

async function run(graph: GraphProto, opset: number, feeds: Record<string, ort.Tensor>, outputs: string[]): Promise<Float32Array[]> {
  graph.output = outputs.map((o) => valueInfo(o, DT.FLOAT, undefined));
  const session = await ort.InferenceSession.create(encodeModel(makeModel(graph, opset)));
  const out = await session.run(feeds);
  return outputs.map((o) => out[o]!.data as Float32Array);
}

/** Per-channel statistics of x ([N, C, rest...] flattened) in double precision. */
function channelStats(x: Float32Array, shape: number[]) {
  const c = shape[1]!;
  const inner = shape.slice(2).reduce((a, d) => a * d, 1);
  const values = (ch: number) => Array.from(x).filter((_, i) => Math.floor(i / inner) % c === ch);
  return Array.from({ length: c }, (_, ch) => {
    const v = values(ch);
    const mean = v.reduce((a, e) => a + e, 0) / v.length;
    const squares = v.reduce((a, e) => a + (e - mean) ** 2, 0);
    return { mean, biasedVar: squares / v.length, unbiasedVar: squares / (v.length - 1) };
  });
}

interface BnFixture {
  b: GraphBuilder;
  graph: GraphProto;
  y: string;
  params: { scale: Float32Array; bias: Float32Array; mean: Float32Array; variance: Float32Array };
}

/** X → BatchNormalization(attrs, `outputs` outputs) with running statistics as initializers. */
function bnGraph(declared: Shape, c: number, attrs: Attrs, outputs = 1, name = 'bn'): BnFixture {
  const rng = Rng.seeded(13);
  const params = { scale: rng.floats(c, 0.5, 1.5), bias: rng.floats(c), mean: rng.floats(c, -0.3, 0.3), variance: rng.floats(c, 0.5, 2) };
  const b = new GraphBuilder(['X', 'scale', 'bias', 'bn.running_mean', 'bn.running_var']);
  b.initializer(float32Tensor('scale', [c], params.scale));
  b.initializer(float32Tensor('bias', [c], params.bias));
  b.initializer(float32Tensor('bn.running_mean', [c], params.mean));
  b.initializer(float32Tensor('bn.running_var', [c], params.variance));
  const y = b.add('BatchNormalization', ['X', 'scale', 'bias', 'bn.running_mean', 'bn.running_var'], attrs, outputs)[0]!;
  (b.nodes[b.nodes.length - 1] as NodeProto).name = name;
  return { b, graph: graphOf(b, [valueInfo('X', DT.FLOAT, declared)]), y, params };
}

describe('toTrainingMode: BatchNormalization', () => {
  const rows: { label: string; declared: Shape; shape: number[]; attrs: Attrs }[] = [
    { label: '[N,C,H,W], momentum 0.8 (torch 0.2)', declared: [4, 3, 2, 2], shape: [4, 3, 2, 2], attrs: { momentum: { float: 0.8 } } },
    { label: '[N,C] with a symbolic batch, default momentum 0.9 (torch 0.1)', declared: ['N', 3], shape: [5, 3], attrs: {} },
    { label: '[N,C,L] with a symbolic batch, training_mode 0 written out, epsilon 1e-3', declared: ['N', 2, 3], shape: [3, 2, 3], attrs: { training_mode: 0, momentum: { float: 0.7 }, epsilon: { float: 1e-3 } } },
  ];
  for (const row of rows) {
    it(`running statistics follow PyTorch (unbiased variance): ${row.label}`, async () => {
      const { b, graph, y, params } = bnGraph(row.declared, row.shape[1]!, row.attrs);
      const rewrite = toTrainingMode(graph, b, { dropout: 'mask-input' });
      expect(rewrite.masks).toEqual([]);
      expect(rewrite.stateUpdates.map((u) => u.buffer)).toEqual(['bn.running_mean', 'bn.running_var']);
      // onnxruntime's training-mode kernel is never used: the node is written out in standard ops.
      expect(graph.node.some((n) => n.opType === 'BatchNormalization')).toBe(false);

      const x = Rng.seeded(17).floats(row.shape.reduce((a, d) => a * d, 1), -2, 3);
      const [yv, newMean, newVar] = await run(graph, 17, { X: new ort.Tensor('float32', x, row.shape) }, [y, ...rewrite.stateUpdates.map((u) => u.output)]);
      const momentum = typeof row.attrs['momentum'] === 'object' ? row.attrs['momentum'].float : 0.9;
      const eps = typeof row.attrs['epsilon'] === 'object' ? row.attrs['epsilon'].float : 1e-5;
      const stats = channelStats(x, row.shape);
      stats.forEach((s, ch) => {
        expect(newMean![ch]).toBeCloseTo(momentum * params.mean[ch]! + (1 - momentum) * s.mean, 5);
        expect(newVar![ch]).toBeCloseTo(momentum * params.variance[ch]! + (1 - momentum) * s.unbiasedVar, 5);
      });
      // Y is normalised with the batch statistics and the BIASED variance.
      const inner = row.shape.slice(2).reduce((a, d) => a * d, 1);
      yv!.forEach((v, i) => {
        const ch = Math.floor(i / inner) % row.shape[1]!;
        const s = stats[ch]!;
        expect(v).toBeCloseTo((params.scale[ch]! * (x[i]! - s.mean)) / Math.sqrt(s.biasedVar + eps) + params.bias[ch]!, 4);
      });
    });
  }

  it('rewrites torch’s opset-13 training export (BatchNormalization-9, five outputs) for opset 16', async () => {
    const { b, graph, y, params } = bnGraph([4, 2, 3], 2, { momentum: { float: 0.9 } }, 5);
    const rewrite = toTrainingMode(graph, b, { dropout: 'native', opset: 16 });
    expect(graph.node.some((n) => n.opType === 'BatchNormalization')).toBe(false);
    const x = Rng.seeded(3).floats(24);
    const [, newVar] = await run(graph, 16, { X: new ort.Tensor('float32', x, [4, 2, 3]) }, [y, rewrite.stateUpdates[1]!.output]);
    channelStats(x, [4, 2, 3]).forEach((s, ch) => expect(newVar![ch]).toBeCloseTo(0.9 * params.variance[ch]! + 0.1 * s.unbiasedVar, 5));
  });

  it('gives readers of the exported running-statistics outputs the PyTorch values', async () => {
    const { b, graph, params } = bnGraph([6, 2], 2, { training_mode: 1 }, 3);
    const exportedVar = graph.node[0]!.output[2]!;
    graph.output = [valueInfo(exportedVar, DT.FLOAT, [2])];
    toTrainingMode(graph, b, { dropout: 'native' });
    const x = Rng.seeded(4).floats(12);
    const [v] = await run(graph, 17, { X: new ort.Tensor('float32', x, [6, 2]) }, [exportedVar]);
    channelStats(x, [6, 2]).forEach((s, ch) => expect(v![ch]).toBeCloseTo(0.9 * params.variance[ch]! + 0.1 * s.unbiasedVar, 5));
  });

  it('refuses a batch of one value per channel', () => {
    const { b, graph } = bnGraph([1, 3], 3, {});
    expect(() => toTrainingMode(graph, b, { dropout: 'native' })).toThrow(/more than one value per channel/);
  });

  it('leaves a graph of standard ops that the backward walk differentiates', () => {
    const { b, graph, y } = bnGraph(['N', 3, 2, 2], 3, {});
    toTrainingMode(graph, b, { dropout: 'native' });
    const loss = b.op('ReduceSum', [y], { keepdims: 0 });
    graph.node.push(b.nodes[b.nodes.length - 1]!);
    const grads = backward({ graph, facts: inferGraph(graph, 17), opset: 17, loss, wrt: ['scale', 'bias'], b });
    expect(grads.size).toBe(2);
  });

  // A worker feeds the same running-statistics memory to every micro-batch of a step.
  it('never writes into the running statistics it is fed, so a second run with the same feeds gives the same outputs', async () => {
    const shape = [4, 3, 2, 2];
    const { b, graph, y, params } = bnGraph(['N', 3, 2, 2], 3, { momentum: { float: 0.8 } });
    const buffers = ['bn.running_mean', 'bn.running_var'];
    graph.initializer = graph.initializer.filter((t) => !buffers.includes(t.name));
    graph.input.push(...buffers.map((name) => valueInfo(name, DT.FLOAT, [3])));
    const rewrite = toTrainingMode(graph, b, { dropout: 'native' });
    const outputs = [y, ...rewrite.stateUpdates.map((u) => u.output)];
    graph.output = outputs.map((o) => valueInfo(o, DT.FLOAT, undefined));
    const session = await ort.InferenceSession.create(encodeModel(makeModel(graph, 17)));

    const x = Rng.seeded(8).floats(48, -2, 3);
    const feeds = {
      X: new ort.Tensor('float32', x, shape),
      'bn.running_mean': new ort.Tensor('float32', Float32Array.from(params.mean), [3]),
      'bn.running_var': new ort.Tensor('float32', Float32Array.from(params.variance), [3]),
    };
    const runOnce = async () => {
      const out = await session.run(feeds);
      return outputs.map((o) => Array.from(out[o]!.data as Float32Array));
    };
    const first = await runOnce();
    expect(Array.from(feeds['bn.running_mean'].data as Float32Array)).toEqual(Array.from(params.mean));
    expect(Array.from(feeds['bn.running_var'].data as Float32Array)).toEqual(Array.from(params.variance));
    expect(Array.from(feeds.X.data as Float32Array)).toEqual(Array.from(x));
    const second = await runOnce();
    expect(second).toEqual(first);
    // And the update itself is PyTorch's, from the fed (not an already-updated) running mean.
    channelStats(x, shape).forEach((s, ch) => expect(first[1]![ch]).toBeCloseTo(0.8 * params.mean[ch]! + 0.2 * s.mean, 5));
    await session.release();
  });
});

describe('toTrainingMode: Dropout and MaxPool', () => {
  it('records one mask per Dropout, named after the node (or its output when unnamed)', () => {
    const b = new GraphBuilder(['X']);
    const [h] = b.add('Dropout', ['X', b.scalar(0.2)], {}, 1);
    (b.nodes[0] as NodeProto).name = 'first';
    const [y] = b.add('Dropout', [h!, b.scalar(0.5)], {}, 1);
    (b.nodes[1] as NodeProto).name = '';
    const graph = graphOf(b, [valueInfo('X', DT.FLOAT, ['N', 6])]);
    const rewrite = toTrainingMode(graph, b, { dropout: 'mask-input' });
    expect(rewrite.masks).toEqual([
      { input: 'dropout_mask:first', of: 'X', ratio: Math.fround(0.2), node: 'first' },
      { input: `dropout_mask:${y}`, of: h, ratio: 0.5, node: y },
    ]);
    expect(graph.node.some((n) => n.opType === 'Dropout')).toBe(false);
    // The rewritten graph is complete: shape inference finds every tensor it reads.
    expect(inferGraph(graph, 17).info.get(y!)!.shape).toEqual(['N', 6]);
  });

  it('gives MaxPool its Indices output, which the backward pass then reuses', () => {
    const b = new GraphBuilder(['X']);
    const y = b.op('MaxPool', ['X'], { kernel_shape: [2, 2], strides: [2, 2] });
    const graph = graphOf(b, [valueInfo('X', DT.FLOAT, ['N', 2, 4, 4])]);
    toTrainingMode(graph, b, { dropout: 'native' });
    expect(graph.node[0]!.output).toHaveLength(2);
    const loss = b.op('ReduceSum', [y], { keepdims: 0 });
    graph.node.push(b.nodes[b.nodes.length - 1]!);
    backward({ graph, facts: inferGraph(graph, 17), opset: 17, loss, wrt: ['X'], b });
    expect(b.nodes.filter((n) => n.opType === 'MaxPool')).toHaveLength(1);
    const flatIndices = b.nodes.find((n) => n.opType === 'Reshape' && n.input[0] === graph.node[0]!.output[1])!.output[0];
    expect(b.nodes.find((n) => n.opType === 'ScatterElements')!.input[1]).toBe(flatIndices);
  });
});

/**
 * X → BatchNormalization → Dropout → Y as torch.onnx.export writes it with
 * training=TrainingMode.TRAINING: opset 13 uses BatchNormalization-9 with five outputs,
 * opsets 14+ training_mode=1 with three; Dropout reads Constant nodes (ratio, training_mode true).
 */
function torchTrainingExport(opset: number): BnFixture {
  const fixture = bnGraph(['N', 3, 2, 2], 3, opset >= 14 ? { training_mode: 1, momentum: { float: 0.9 } } : { momentum: { float: 0.9 } }, opset >= 14 ? 3 : 5, 'BatchNormalization_0');
  const { b, y } = fixture;
  const [p] = b.add('Constant', [], { value: float32Tensor('', [], [0.1]) }, 1);
  const [t] = b.add('Constant', [], { value: boolTensor('', [], [true]) }, 1);
  const [out] = b.add('Dropout', [y, p!, t!], {}, 2);
  return { ...fixture, graph: graphOf(b, [valueInfo('X', DT.FLOAT, ['N', 3, 2, 2])]), y: out! };
}

describe('toEvalMode', () => {
  for (const opset of [13, 15, 17]) {
    it(`turns torch’s opset-${opset} training export into the affine batch norm on running statistics`, async () => {
      const { graph, y, params } = torchTrainingExport(opset);
      toEvalMode(graph);
      expect(graph.node.find((n) => n.opType === 'BatchNormalization')!.output).toHaveLength(1);
      // The Dropout is gone, and so are the Constant nodes that only it read.
      expect(graph.node.map((n) => n.opType)).toEqual(['BatchNormalization', 'Identity']);
      const shape = [2, 3, 2, 2];
      const x = Rng.seeded(6).floats(24, -2, 2);
      const [yv] = await run(graph, opset, { X: new ort.Tensor('float32', x, shape) }, [y]);
      yv!.forEach((v, i) => {
        const ch = Math.floor(i / 4) % 3;
        expect(v).toBeCloseTo((params.scale[ch]! * (x[i]! - params.mean[ch]!)) / Math.sqrt(params.variance[ch]! + 1e-5) + params.bias[ch]!, 5);
      });
    });
  }

  it('is idempotent, and leaves a graph exported in eval mode as it is', () => {
    const { graph } = torchTrainingExport(15);
    toEvalMode(graph);
    const once = GraphProto.encode(graph).finish();
    toEvalMode(graph);
    expect(GraphProto.encode(graph).finish()).toEqual(once);

    const evalExport = bnGraph(['N', 3], 3, { training_mode: 0, momentum: { float: 0.9 } }).graph;
    const before = GraphProto.encode(evalExport).finish();
    toEvalMode(evalExport);
    expect(GraphProto.encode(evalExport).finish()).toEqual(before);
  });

  it('gives readers of the running-statistics outputs the running statistics themselves', async () => {
    const { graph, params } = bnGraph([4, 2], 2, { training_mode: 1 }, 3);
    const runningMean = graph.node[0]!.output[1]!;
    graph.output = [valueInfo(runningMean, DT.FLOAT, [2])];
    toEvalMode(graph);
    const [m] = await run(graph, 17, { X: new ort.Tensor('float32', Rng.seeded(1).floats(8), [4, 2]) }, [runningMean]);
    expect(Array.from(m!)).toEqual(Array.from(params.mean));
  });

  it('keeps a Dropout whose mask is read, with training_mode false', async () => {
    const b = new GraphBuilder(['X']);
    const [y, mask] = b.add('Dropout', ['X', b.scalar(0.5), b.initializer(boolTensor('on', [], [true]))], {}, 2);
    const cast = b.op('Cast', [mask!], { to: DT.FLOAT });
    const graph = graphOf(b, [valueInfo('X', DT.FLOAT, [2, 3])]);
    toEvalMode(graph);
    const x = Rng.seeded(2).floats(6);
    const [yv, m] = await run(graph, 17, { X: new ort.Tensor('float32', x, [2, 3]) }, [y!, cast]);
    expect(Array.from(yv!)).toEqual(Array.from(x));
    expect(Array.from(m!)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('refuses a graph that reads BatchNormalization-9’s saved batch statistics', () => {
    const { graph } = bnGraph([4, 2], 2, {}, 5);
    graph.output = [valueInfo(graph.node[0]!.output[3]!, DT.FLOAT, [2])];
    expect(() => toEvalMode(graph)).toThrow(CompileError);
  });
});
