/**
 * Runs an attack graph (shared/autodiff/compile-attack.ts) on a device: the clean figures of a
 * batch, its adversarial examples (shared/adversarial/perturb.ts, one graph run per gradient),
 * and the adversarial figures. One onnxruntime session, created once; weights are fed as inputs,
 * so a new parameter version needs no new session (as EvalRunner).
 *
 * Graph runs per batch: FGSM 2 (the clean run's gradient is the attack's), PGD steps + 2 with a
 * random start, steps + 1 without. Input-sized arrays are kept between batches.
 */
import * as ort from 'onnxruntime-node';
import type { AttackGraph } from '../autodiff/compile-attack.js';
import type { TensorSpec } from '../autodiff/compile-types.js';
import { encodeModel } from '../onnx/model.js';
import { DT } from '../onnx/tensor.js';
import type { Batch } from '../data/dataset.js';
import type { Device } from './device.js';
import { openSession } from './open-session.js';
import { perturb, type PerturbScratch } from '../adversarial/perturb.js';
import type { AttackSpec } from '../adversarial/attack-spec.js';

/** Clean and adversarial figures of one batch: counts and float64 sums (shards add exactly). */
export interface AttackResult {
  count: number;
  correct: number;
  lossSum: number;
  adversarialCorrect: number;
  adversarialLossSum: number;
}

/** One batch under several attacks: its clean figures once, then each attack's, in order. */
export interface AttacksResult {
  count: number;
  correct: number;
  lossSum: number;
  attacks: { correct: number; lossSum: number }[];
}

export class AttackRunner {
  private weightFeeds: Record<string, ort.Tensor> = {};
  private readonly scratch: PerturbScratch = {};
  private cleanGrad = new Float32Array(0);
  private adversarial = new Float32Array(0);

  private constructor(
    readonly graph: AttackGraph,
    private readonly session: ort.InferenceSession,
    private readonly shapes: Map<string, number[]>,
    /** The device the session really runs on (the CPU after a CUDA fallback). */
    readonly device: Device,
  ) {}

  /** @param shapes the shape of every param and buffer by name. */
  static async open(graph: AttackGraph, device: Device, shapes: Map<string, number[]>, onFallback?: (reason: string) => void): Promise<AttackRunner> {
    for (const name of [...graph.params, ...graph.buffers]) if (!shapes.has(name)) throw new Error(`no shape given for '${name}' of the attack graph`);
    const { session, device: used } = await openSession(encodeModel(graph.model), device, onFallback);
    return new AttackRunner(graph, session, shapes, used);
  }

  /** Params then buffers, in the graph's order (like EvalRunner.setWeights); no copy is made. */
  setWeights(params: readonly Float32Array[], buffers: readonly Float32Array[]): void {
    const g = this.graph;
    if (params.length !== g.params.length || buffers.length !== g.buffers.length) throw new Error(`the attack graph takes ${g.params.length} params and ${g.buffers.length} buffers, got ${params.length} and ${buffers.length}`);
    this.weightFeeds = {};
    const feed = (name: string, values: Float32Array) => {
      const shape = this.shapes.get(name)!;
      const size = shape.reduce((a, d) => a * d, 1);
      if (values.length !== size) throw new Error(`'${name}' needs ${size} values ([${shape.join(', ')}]), got ${values.length}`);
      this.weightFeeds[name] = new ort.Tensor('float32', values, shape);
    };
    g.params.forEach((name, i) => feed(name, params[i]!));
    g.buffers.forEach((name, i) => feed(name, buffers[i]!));
  }

  /**
   * Clean and adversarial figures of one batch. `seed` and `indices` (each sample's index in its
   * dataset) fix PGD's random start, so a sample's attack is the same in any batch or worker.
   * Classification only: the graph needs a `correct` output.
   */
  async attack(batch: Batch, spec: AttackSpec, seed: number, indices: ArrayLike<number>): Promise<AttackResult> {
    const r = await this.attackAll(batch, [spec], seed, indices);
    return { count: r.count, correct: r.correct, lossSum: r.lossSum, adversarialCorrect: r.attacks[0]!.correct, adversarialLossSum: r.attacks[0]!.lossSum };
  }

  /**
   * One batch under each of `specs`: the clean run (figures and gradient) is done once and shared
   * by every attack that starts from the clean point, so FGSM and PGD on a shard take
   * 1 + 1 + (steps + 1) graph runs instead of scoring the clean batch once per attack.
   */
  async attackAll(batch: Batch, specs: readonly AttackSpec[], seed: number, indices: ArrayLike<number>): Promise<AttacksResult> {
    const g = this.graph;
    if (!g.outputs.correct) throw new Error('the attack graph has no classification head (no correct output); attack figures count hits');
    const n = batch.x.length;
    if (this.cleanGrad.length < n) {
      this.cleanGrad = new Float32Array(n);
      this.adversarial = new Float32Array(n);
    }
    const cleanGrad = this.cleanGrad.subarray(0, n);
    const adversarial = this.adversarial.subarray(0, n);
    const clean = await this.run(batch.x, batch, cleanGrad);
    const attacks: AttacksResult['attacks'] = [];
    for (const spec of specs) {
      await perturb(
        spec,
        batch.x,
        n / batch.count,
        indices,
        seed,
        // The clean point's gradient is the clean run's: perturb passes `clean` itself when it asks for it.
        async (x, grad) => {
          if (x === batch.x) grad.set(cleanGrad);
          else await this.run(x, batch, grad);
        },
        adversarial,
        this.scratch,
      );
      const attacked = await this.run(adversarial, batch, this.scratch.grad!.subarray(0, n));
      attacks.push({ correct: attacked.correct, lossSum: attacked.lossSum });
    }
    return { count: batch.count, correct: clean.correct, lossSum: clean.lossSum, attacks };
  }

  /**
   * d(summed loss)/dx of `batch`'s labels at `x`, written into `grad`; also the loss sum and hits
   * at x. The runner's InputGradient for callers that drive perturb themselves.
   */
  async gradient(x: Float32Array, batch: Batch, grad: Float32Array): Promise<{ lossSum: number; correct: number }> {
    return this.run(x, batch, grad);
  }

  private async run(x: Float32Array, batch: Batch, grad: Float32Array): Promise<{ lossSum: number; correct: number }> {
    const g = this.graph;
    const input = g.inputs[0]!;
    const dims = batchDims(input, batch.count);
    const feeds: Record<string, ort.Tensor> = { ...this.weightFeeds, [input.name]: new ort.Tensor('float32', x, dims) };
    for (const l of g.labels) {
      const ldims = batchDims(l, batch.count);
      feeds[l.name] = l.elemType === DT.INT64 ? new ort.Tensor('int64', batch.y as BigInt64Array, ldims) : new ort.Tensor('float32', batch.y as Float32Array, ldims);
    }
    const fetches: Record<string, ort.Tensor | null> = { [g.outputs.loss]: null, [g.outputs.inputGrad]: new ort.Tensor('float32', grad, dims) };
    if (g.outputs.correct) fetches[g.outputs.correct] = null;
    const out = await this.session.run(feeds, fetches as ort.InferenceSession.FetchesType);
    return { lossSum: scalar(out[g.outputs.loss]), correct: g.outputs.correct ? scalar(out[g.outputs.correct]) : Number.NaN };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function batchDims(spec: TensorSpec, count: number): number[] {
  return spec.shape.map((d) => (typeof d === 'number' ? d : count));
}

function scalar(v: ort.Tensor | undefined): number {
  return Number((v!.data as ArrayLike<number | bigint>)[0]);
}
