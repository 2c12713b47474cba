import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { ModelProto } from '../../shared/proto/gen/onnx.js';
import { attrInt } from '../../shared/onnx/attributes.js';
import { encodeModel, decodeModel } from '../../shared/onnx/model.js';
import { toFloat32 } from '../../shared/onnx/tensor.js';
import { exportInference } from '../../shared/autodiff/export.js';
import { compileEval } from '../../shared/autodiff/eval.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import { CompileError } from '../../shared/autodiff/errors.js';
import type { HeadSpec } from '../../shared/autodiff/compile-types.js';
import { Rng } from '../../shared/random.js';
import { bnDropoutModel, floats, floatTensor, labelTensor, weightFeeds } from './compile-fixtures.js';

const head: HeadSpec = { name: 'out', logits: 'logits', labels: 'labels', loss: 'cross-entropy' };

describe('exportInference', () => {
  const fx = bnDropoutModel();
  const g = compileTraining(fx.model, { heads: [head] });
  // "Trained" values: anything other than the initial ones.
  const rng = Rng.seeded(99);
  const params = new Map(g.params.map((p) => [p.name, rng.floats(p.init.length, -1, 1)]));
  const buffers = new Map(g.buffers.map((b) => [b.name, b.name.endsWith('var') ? rng.floats(b.init.length, 0.5, 2) : rng.floats(b.init.length, -0.5, 0.5)]));
  const exported = exportInference(fx.model, params, buffers);

  it('writes the trained values into the initializers and keeps only the forward inputs and outputs', () => {
    const graph = exported.graph!;
    expect(graph.input.map((v) => v.name)).toEqual(['x']);
    expect(graph.output.map((v) => v.name)).toEqual(['logits']);
    for (const [name, values] of [...params, ...buffers]) expect(Array.from(toFloat32(graph.initializer.find((t) => t.name === name)!))).toEqual(Array.from(values));
  });

  it('is in eval mode: no Dropout, batch norm without training_mode or extra outputs', () => {
    const graph = exported.graph!;
    expect(graph.node.some((n) => n.opType === 'Dropout')).toBe(false);
    const bn = graph.node.find((n) => n.opType === 'BatchNormalization')!;
    expect(attrInt(bn, 'training_mode', 0)).toBe(0);
    expect(bn.output).toHaveLength(1);
  });

  it("loads in a stock onnxruntime and matches the eval graph's forward pass on the same weights", async () => {
    const bytes = encodeModel(exported);
    decodeModel(bytes); // survives a round trip through the protobuf encoding
    const inference = await ort.InferenceSession.create(bytes);
    const e = compileEval(fx.model, { heads: [head] });
    const evalSession = await ort.InferenceSession.create(encodeModel(e.model));
    const x = floats({ shape: ['N', 4] }, 7, 31, -2, 2);
    const mine = (await inference.run({ x: floatTensor(x) }))['logits']!.data as Float32Array;
    const overrides = new Map([...params, ...buffers]);
    const reference = (await evalSession.run({ x: floatTensor(x), labels: labelTensor(e.labels[0]!, [0, 1, 2, 0, 1, 2, 0]), ...weightFeeds(g, overrides) }))['logits']!.data as Float32Array;
    expect(mine.length).toBe(21);
    mine.forEach((v, i) => expect(v).toBeCloseTo(reference[i]!, 5));
  });

  it('with the initial values computes what the original model computes', async () => {
    const original = await ort.InferenceSession.create(encodeModel(fx.model));
    const same = await ort.InferenceSession.create(encodeModel(exportInference(fx.model, new Map(g.params.map((p) => [p.name, p.init])))));
    const x = floatTensor(floats({ shape: ['N', 4] }, 5, 8, -2, 2));
    const a = (await original.run({ x }))['logits']!.data as Float32Array;
    const b = (await same.run({ x }))['logits']!.data as Float32Array;
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('leaves the forward model unchanged', () => {
    expect(fx.model.graph!.node.some((n) => n.opType === 'Dropout')).toBe(true);
    expect(Array.from(toFloat32(fx.model.graph!.initializer[0]!))).toEqual(Array.from(fx.values.get('fc1.weight')!));
    expect(ModelProto.encode(exportInference(fx.model, new Map())).finish().length).toBeGreaterThan(0);
  });

  it('refuses a name that is not an initializer, or a value count that does not fit', () => {
    expect(() => exportInference(fx.model, new Map([['fc3.weight', new Float32Array(3)]]))).toThrow(/parameter 'fc3.weight' is not an initializer/);
    expect(() => exportInference(fx.model, new Map([['fc1.bias', new Float32Array(5)]]))).toThrow(CompileError);
    expect(() => exportInference(fx.model, new Map(), new Map([['bn.running_var', new Float32Array(7)]]))).toThrow(/buffer 'bn.running_var' has 6 values in the model \(\[6\]\), got 7/);
  });
});
