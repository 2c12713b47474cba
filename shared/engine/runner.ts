/**
 * Runs compiled graphs on a device: one onnxruntime session per graph, created once and reused;
 * parameters are fed as inputs, so a new parameter version needs no new session.
 */
import * as ort from 'onnxruntime-node';
import type { TrainingGraph, EvalGraph, TensorSpec } from '../autodiff/compile-types.js';
import { encodeModel } from '../onnx/model.js';
import { DT } from '../onnx/tensor.js';
import type { Batch } from '../data/dataset.js';
import type { Device } from './device.js';
import { openSession } from './open-session.js';
import { makeMasks } from './dropout-masks.js';

export interface StepResult {
  /** Loss as the graph reduces it ('sum' or 'mean' over the batch). */
  loss: number;
  headLosses: number[];
  /** Per head: what its summed loss divides by for PyTorch's mean (see TrainingGraph.outputs). */
  headNormalizers: number[];
  /** One per TrainingGraph.params entry, same order. */
  grads: Float32Array[];
  /** Updated buffers (BN running stats), one per TrainingGraph.buffers entry. */
  state: Float32Array[];
  correct: number | undefined;
  inputGrads: Float32Array[];
}

export interface EvalResult {
  lossSum: number;
  headLossSums: number[];
  /** Per head: the normalizer sums of this batch (sample count, element count or Σ class weights). */
  headNormalizers: number[];
  correct: number | undefined;
  count: number;
}

function tensorFor(values: Float32Array, shape: number[]): ort.Tensor {
  return new ort.Tensor('float32', values, shape);
}

function batchDims(spec: TensorSpec, count: number): number[] {
  return spec.shape.map((d) => (typeof d === 'number' ? d : count));
}

function dataFeeds(inputs: TensorSpec[], labels: TensorSpec[], batch: Batch): Record<string, ort.Tensor> {
  if (inputs.length !== 1) throw new Error(`the graph has ${inputs.length} data inputs; batches carry one feature tensor`);
  const feeds: Record<string, ort.Tensor> = {};
  const x = inputs[0]!;
  feeds[x.name] = x.elemType === DT.INT64 ? new ort.Tensor('int64', BigInt64Array.from(batch.x, (v) => BigInt(Math.round(v))), batchDims(x, batch.count)) : new ort.Tensor('float32', batch.x, batchDims(x, batch.count));
  for (const l of labels) {
    const dims = batchDims(l, batch.count);
    feeds[l.name] = l.elemType === DT.INT64 ? new ort.Tensor('int64', batch.y as BigInt64Array, dims) : new ort.Tensor('float32', batch.y as Float32Array, dims);
  }
  return feeds;
}

function scalar(v: ort.Tensor | undefined): number | undefined {
  if (!v) return undefined;
  const d = v.data as ArrayLike<number | bigint>;
  return Number(d[0]);
}

export class TrainingRunner {
  private paramFeeds: Record<string, ort.Tensor> = {};
  private bufferFeeds: Record<string, ort.Tensor> = {};
  /** Dropout masks, rewritten in place every step (an allocation of this size costs more than filling it). */
  private readonly masks: Float32Array[] = [];

  private constructor(
    readonly graph: TrainingGraph,
    private readonly session: ort.InferenceSession,
    readonly device: Device,
  ) {
    this.setParams(graph.params.map((p) => p.init));
    this.setBuffers(graph.buffers.map((b) => b.init));
  }

  static async open(graph: TrainingGraph, device: Device, onFallback?: (reason: string) => void): Promise<TrainingRunner> {
    const { session, device: used } = await openSession(encodeModel(graph.model), device, onFallback);
    return new TrainingRunner(graph, session, used);
  }

  /** New parameter values (one array per graph.params entry, in order); no copy is made. */
  setParams(values: readonly Float32Array[]): void {
    this.paramFeeds = {};
    this.graph.params.forEach((p, i) => {
      const v = values[i]!;
      if (v.length !== p.init.length) throw new Error(`parameter '${p.name}' needs ${p.init.length} values, got ${v.length}`);
      this.paramFeeds[p.name] = tensorFor(v, p.shape);
    });
  }

  setBuffers(values: readonly Float32Array[]): void {
    this.bufferFeeds = {};
    this.graph.buffers.forEach((b, i) => (this.bufferFeeds[b.name] = tensorFor(values[i]!, b.shape)));
  }

  /**
   * One forward+backward pass over a batch. `maskSeed` fixes the dropout masks of this batch.
   * With `gradsInto` (one array per graph.params entry, exact lengths, not backed by a
   * SharedArrayBuffer), onnxruntime writes the gradients straight into those arrays and
   * `grads` returns them: no per-step allocation of parameter-sized outputs. With `dropout`,
   * every dropout layer drops with that probability instead of its compiled one (makeMasks).
   * With `inputGradsInto` (one array per graph.outputs.inputGrads entry, count × the input's
   * sample size), the input gradients (adversarial examples) are written there the same way.
   */
  async step(batch: Batch, maskSeed: number, gradsInto?: readonly Float32Array[], dropout?: number, inputGradsInto?: readonly Float32Array[]): Promise<StepResult> {
    const g = this.graph;
    const feeds: Record<string, ort.Tensor> = { ...dataFeeds(g.inputs, g.labels, batch), ...this.paramFeeds, ...this.bufferFeeds };
    makeMasks(g.dropoutMasks, batch.count, maskSeed, this.masks, dropout).forEach((m, k) => (feeds[g.dropoutMasks[k]!.name] = tensorFor(m.data, m.dims)));
    let out: ort.InferenceSession.OnnxValueMapType;
    if (gradsInto || inputGradsInto) {
      // Every output is named, so that the ones not pre-allocated are still computed and returned.
      const fetches: Record<string, ort.Tensor | null> = Object.fromEntries(this.session.outputNames.map((name) => [name, null]));
      if (gradsInto) {
        if (gradsInto.length !== g.params.length) throw new Error(`gradsInto holds ${gradsInto.length} arrays, the graph has ${g.params.length} params`);
        g.params.forEach((p, i) => {
          if (gradsInto[i]!.length !== p.init.length) throw new Error(`gradsInto[${i}] holds ${gradsInto[i]!.length} values, the gradient of '${p.name}' has ${p.init.length}`);
          fetches[p.grad] = tensorFor(gradsInto[i]!, p.shape);
        });
      }
      inputGradsInto?.forEach((into, i) => {
        const name = g.outputs.inputGrads[i]!;
        const input = g.inputs.find((x) => `grad:${x.name}` === name);
        if (!input) throw new Error(`the graph's input gradient '${name}' belongs to no data input`);
        const dims = batchDims(input, batch.count);
        if (into.length !== dims.reduce((a, d) => a * d, 1)) throw new Error(`inputGradsInto[${i}] holds ${into.length} values, the gradient of input '${input.name}' has ${dims.join('×')}`);
        fetches[name] = tensorFor(into, dims);
      });
      out = await this.session.run(feeds, fetches as ort.InferenceSession.FetchesType);
    } else {
      out = await this.session.run(feeds);
    }
    const f32 = (name: string) => out[name]!.data as Float32Array;
    return {
      loss: scalar(out[g.outputs.loss])!,
      headLosses: g.outputs.headLosses.map((h) => scalar(out[h])!),
      headNormalizers: g.outputs.headNormalizers.map((h) => scalar(out[h])!),
      grads: gradsInto ? [...gradsInto] : g.params.map((p) => f32(p.grad)),
      state: g.buffers.map((b) => f32(b.updated)),
      correct: g.outputs.correct ? scalar(out[g.outputs.correct]) : undefined,
      inputGrads: g.outputs.inputGrads.map(f32),
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export class EvalRunner {
  private feeds: Record<string, ort.Tensor> = {};

  private constructor(
    readonly graph: EvalGraph,
    private readonly session: ort.InferenceSession,
    private readonly shapes: Map<string, number[]>,
  ) {}

  /** @param shapes the shape of every param and buffer by name. */
  static async open(graph: EvalGraph, device: Device, shapes: Map<string, number[]>, onFallback?: (reason: string) => void): Promise<EvalRunner> {
    const { session } = await openSession(encodeModel(graph.model), device, onFallback);
    return new EvalRunner(graph, session, shapes);
  }

  /** Params then buffers, in the graph's order. */
  setWeights(params: readonly Float32Array[], buffers: readonly Float32Array[]): void {
    this.feeds = {};
    this.graph.params.forEach((name, i) => (this.feeds[name] = tensorFor(params[i]!, this.shapes.get(name)!)));
    this.graph.buffers.forEach((name, i) => (this.feeds[name] = tensorFor(buffers[i]!, this.shapes.get(name)!)));
  }

  async evaluate(batch: Batch): Promise<EvalResult> {
    const g = this.graph;
    const out = await this.session.run({ ...dataFeeds(g.inputs, g.labels, batch), ...this.feeds });
    return {
      lossSum: scalar(out[g.outputs.loss])!,
      headLossSums: g.outputs.headLosses.map((h) => scalar(out[h])!),
      headNormalizers: g.outputs.headNormalizers.map((h) => scalar(out[h])!),
      correct: g.outputs.correct ? scalar(out[g.outputs.correct]) : undefined,
      count: batch.count,
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
