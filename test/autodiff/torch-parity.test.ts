/**
 * PyTorch parity: models exported by torch.onnx.export compile into training graphs whose loss,
 * parameter gradients and batch-norm running statistics match one torch training-mode step on
 * the same batch, whichever mode the model was exported in (an eval-mode export has lost its
 * Dropout nodes, so its reference has no dropout; one exported by default has BN folded into Conv).
 *
 * The fixtures (test/fixtures/torch/, written by generate.py there) hold each exported model, one
 * batch, torch's answer for it and, for models exported in training mode, the 0/1 dropout masks
 * torch's reference used; the compiled graph gets the same masks through its
 * `dropout_mask:<node>` inputs. Every tensor must agree to max|a−b| / max(max|b|, 1e-6) < 1e-4.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it, expect, beforeAll } from 'vitest';
import * as ort from 'onnxruntime-node';
import { readModel, encodeModel } from '../../shared/onnx/model.js';
import { DT, toFloat32 } from '../../shared/onnx/tensor.js';
import { compileTraining } from '../../shared/autodiff/compile.js';
import type { TrainingGraph } from '../../shared/autodiff/compile-types.js';
import type { ModelProto } from '../../shared/proto/gen/onnx.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/torch/', import.meta.url));
const TOLERANCE = 1e-4;

/** Where a float32 tensor lies in a fixture's .bin (offset counted in floats). */
interface Slot {
  offset: number;
  shape: number[];
}

interface Fixture {
  name: string;
  onnx: string;
  data: string;
  opset: number;
  mode: 'train' | 'eval' | 'eval-fused';
  batch: number;
  inputs: Record<string, Slot>;
  labels: number[];
  loss: number;
  /** Eval-mode exports: torch's loss from the exported (eval-mode) network itself, or null. */
  exportedForwardLoss: number | null;
  /** Trainable parameter (ONNX initializer name) → torch's gradient. */
  grads: Record<string, Slot>;
  /** BN running statistic (initializer name) → its value after torch's training-mode step. */
  buffers: Record<string, Slot>;
  /** Dropout node name → the mask torch's reference used. */
  dropoutMasks: Record<string, Slot & { ratio: number }>;
}

interface Manifest {
  torch: string;
  fixtures: Fixture[];
}

/** What one run of the compiled graph produced, next to what the fixture expects. */
interface Outcome {
  graph: TrainingGraph;
  results: ort.InferenceSession.OnnxValueMapType;
  /** Fed float tensors whose memory changed during the run (onnxruntime may write in place). */
  clobbered: string[];
}

const manifest = JSON.parse(readFileSync(`${FIXTURES}manifest.json`, 'utf8')) as Manifest;

const dataFiles = new Map<string, Buffer>();

function tensorOf(fx: Fixture, slot: Slot): Float32Array {
  let bytes = dataFiles.get(fx.data);
  if (!bytes) dataFiles.set(fx.data, (bytes = readFileSync(`${FIXTURES}${fx.data}`)));
  const n = slot.shape.reduce((a, d) => a * d, 1);
  const out = new Float32Array(n);
  new Uint8Array(out.buffer).set(bytes.subarray(slot.offset * 4, (slot.offset + n) * 4));
  return out;
}

/** max|a−b| / max(max|b|, 1e-6), with where the largest difference sits. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): { err: number; at: number } {
  if (actual.length !== expected.length) return { err: Infinity, at: -1 };
  let maxDiff = 0;
  let maxRef = 0;
  let at = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    // NaN must fail: a NaN difference becomes the largest one.
    if (d > maxDiff || Number.isNaN(d)) {
      maxDiff = Number.isNaN(d) ? Infinity : d;
      at = i;
    }
    maxRef = Math.max(maxRef, Math.abs(expected[i]!));
  }
  return { err: maxDiff / Math.max(maxRef, 1e-6), at };
}

function expectClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  const { err, at } = relativeError(actual, expected);
  const detail =
    actual.length !== expected.length
      ? `${actual.length} values, torch has ${expected.length}`
      : `relative error ${err.toExponential(2)}; worst at [${at}]: gradfleet ${actual[at]}, torch ${expected[at]}`;
  expect(err, `${what}: ${detail}`).toBeLessThan(TOLERANCE);
}

function labelTensor(graph: TrainingGraph, fx: Fixture): ort.Tensor {
  const spec = graph.labels[0];
  if (!spec || spec.name !== 'labels') throw new Error(`compiled graph should declare the label input 'labels', got ${JSON.stringify(graph.labels)}`);
  if (spec.elemType === DT.INT64) return new ort.Tensor('int64', BigInt64Array.from(fx.labels.map(BigInt)), [fx.batch]);
  if (spec.elemType === DT.INT32) return new ort.Tensor('int32', Int32Array.from(fx.labels), [fx.batch]);
  throw new Error(`label input 'labels' has element type ${DT[spec.elemType] ?? spec.elemType}; cross-entropy labels should be class indices (INT64 or INT32)`);
}

/** Mean cross-entropy of [N, C] logits against class labels, in float64. */
function meanCrossEntropy(logits: Float32Array, labels: number[]): number {
  const classes = logits.length / labels.length;
  let total = 0;
  labels.forEach((label, i) => {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    const max = Math.max(...row);
    const logSum = Math.log(row.reduce((acc, v) => acc + Math.exp(v - max), 0)) + max;
    total += logSum - row[label]!;
  });
  return total / labels.length;
}

/** The exported model as is (no compilation): the loss its own logits give. */
async function exportedForwardLoss(fx: Fixture): Promise<number> {
  const session = await ort.InferenceSession.create(`${FIXTURES}${fx.onnx}`);
  try {
    const slot = fx.inputs.x!;
    const out = await session.run({ x: new ort.Tensor('float32', tensorOf(fx, slot), slot.shape) });
    return meanCrossEntropy(out.logits!.data as Float32Array, fx.labels);
  } finally {
    await session.release();
  }
}

/** Compiles the fixture's model and runs one step on the fixture's batch, params, buffers and masks. */
async function compileAndRun(fx: Fixture, model: ModelProto): Promise<Outcome> {
  const graph = compileTraining(model, {
    heads: [{ name: 'out', logits: 'logits', labels: 'labels', loss: 'cross-entropy' }],
    dropout: 'mask-input',
  });
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of graph.inputs) {
    const slot = fx.inputs[input.name];
    if (!slot) throw new Error(`compiled graph wants data input '${input.name}', the fixture has ${Object.keys(fx.inputs)}`);
    feeds[input.name] = new ort.Tensor('float32', tensorOf(fx, slot), slot.shape);
  }
  feeds[graph.labels[0]?.name ?? 'labels'] = labelTensor(graph, fx);
  // Copies, so that a run that writes into its feeds cannot alter graph.params/buffers' init.
  for (const p of graph.params) feeds[p.name] = new ort.Tensor('float32', Float32Array.from(p.init), p.shape);
  for (const b of graph.buffers) feeds[b.name] = new ort.Tensor('float32', Float32Array.from(b.init), b.shape);
  for (const m of graph.dropoutMasks) {
    const node = m.name.replace(/^dropout_mask:/, '');
    const slot = fx.dropoutMasks[node];
    if (!slot) throw new Error(`compiled graph wants mask '${m.name}', the fixture has masks for ${JSON.stringify(Object.keys(fx.dropoutMasks))}`);
    feeds[m.name] = new ort.Tensor('float32', tensorOf(fx, slot), slot.shape);
  }
  const before = Object.entries(feeds).map(([name, t]) => [name, (t.data as Float32Array | BigInt64Array | Int32Array).slice()] as const);
  const session = await ort.InferenceSession.create(encodeModel(graph.model));
  try {
    const results = await session.run(feeds);
    const clobbered = before.filter(([name, data]) => !bitEqual(data, feeds[name]!.data as typeof data)).map(([name]) => name);
    return { graph, results, clobbered };
  } finally {
    await session.release();
  }
}

function bitEqual(a: ArrayLike<unknown> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }, b: typeof a): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function output(o: Outcome, name: string): Float32Array {
  const t = o.results[name];
  if (!t) throw new Error(`compiled graph has no output '${name}'`);
  return t.data as Float32Array;
}

describe(`training graphs of torch.onnx.export models match torch ${manifest.torch} autograd`, () => {
  for (const fx of manifest.fixtures) {
    describe(`${fx.name} (${fx.mode}, opset ${fx.opset})`, () => {
      const model = readModel(`${FIXTURES}${fx.onnx}`);
      let outcome: Outcome;
      beforeAll(async () => {
        outcome = await compileAndRun(fx, model);
      });

      if (fx.exportedForwardLoss !== null) {
        // Checks the fixture itself (inputs, labels, export) apart from the compiler.
        it('runs, as exported, to the loss torch gives in eval mode', async () => {
          expectClose('exported forward loss', [await exportedForwardLoss(fx)], [fx.exportedForwardLoss!]);
        });
      }

      it('trains exactly the parameters torch trains, starting from the exported values', () => {
        expect(outcome.graph.params.map((p) => p.name).sort()).toEqual(Object.keys(fx.grads).sort());
        const initializers = new Map(model.graph!.initializer.map((t) => [t.name, t]));
        for (const p of outcome.graph.params) expectClose(`initial value of ${p.name}`, p.init, toFloat32(initializers.get(p.name)!));
      });

      // A worker feeds the same parameter memory to many runs: the graph must only read it.
      it('leaves every fed tensor as it was', () => {
        expect(outcome.clobbered, 'inputs the run wrote into').toEqual([]);
      });

      it('computes the mean cross-entropy loss torch computes', () => {
        expectClose('loss', output(outcome, outcome.graph.outputs.loss), [fx.loss]);
      });

      for (const [param, slot] of Object.entries(fx.grads)) {
        it(`gives ${param} the gradient torch gives`, () => {
          const p = outcome.graph.params.find((q) => q.name === param);
          expect(p, `${param} is not a trainable parameter of the compiled graph`).toBeDefined();
          expectClose(`gradient of ${param}`, output(outcome, p!.grad), tensorOf(fx, slot));
        });
      }

      it('updates exactly the batch-norm running statistics torch updates, to torch\'s values', () => {
        expect(outcome.graph.buffers.map((b) => b.name).sort(), 'buffers of the compiled graph').toEqual(Object.keys(fx.buffers).sort());
        for (const b of outcome.graph.buffers) expectClose(`updated ${b.name}`, output(outcome, b.updated), tensorOf(fx, fx.buffers[b.name]!));
      });

      if (Object.keys(fx.dropoutMasks).length > 0) {
        it('asks for one dropout mask per Dropout node, with torch\'s shape and ratio', () => {
          const masks = outcome.graph.dropoutMasks;
          expect(masks.map((m) => m.name).sort()).toEqual(Object.keys(fx.dropoutMasks).map((n) => `dropout_mask:${n}`).sort());
          for (const m of masks) {
            const ref = fx.dropoutMasks[m.name.replace(/^dropout_mask:/, '')]!;
            expect(m.ratio).toBeCloseTo(ref.ratio, 6);
            expect(m.shape.slice(1), `feature dims of ${m.name}`).toEqual(ref.shape.slice(1));
          }
        });
      }
    });
  }
});
