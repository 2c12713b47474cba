/**
 * Adversarial training's micro-batch: its first round(ratio·n) samples are replaced by their
 * adversarial examples before the training pass. The micro-batch's order is the epoch's random
 * permutation, so these are a random share of the data, and which samples they are depends only on
 * the micro-batch: any worker count gives the same batch. The attack differentiates the training
 * graph itself (its grad:<input> output), in training mode: the same dropout masks (the masks of
 * the first m rows of an n-row micro-batch are the m-row masks, dropout-masks.ts draws them in
 * order) and batch statistics of the attacked rows. The attack passes' parameter gradients are
 * written into the leaf's own vector, which the training pass then overwrites: nothing is allocated.
 */
import type { Batch } from '../data/dataset.js';
import type { AttackSpec } from '../adversarial/attack-spec.js';
import { perturb, type InputGradient, type PerturbScratch } from '../adversarial/perturb.js';
import type { TrainingRunner } from './runner.js';

export interface AdversarialTraining {
  attack: AttackSpec;
  /** Share of each micro-batch replaced, in (0, 1]. */
  ratio: number;
}

/** Memory a caller keeps from micro-batch to micro-batch. */
export interface AdversarialScratch {
  adversarial?: Float32Array;
  /** The training pass's input gradient, which the graph computes and nobody reads. */
  unusedInputGrad?: Float32Array;
  perturb: PerturbScratch;
}

/** How many samples of an n-sample micro-batch adversarial training replaces. */
export function adversarialCount(ratio: number, n: number): number {
  return Math.min(n, Math.round(ratio * n));
}

function grown(a: Float32Array | undefined, n: number): Float32Array {
  return a && a.length >= n ? a : new Float32Array(n);
}

/**
 * Replaces the first adversarialCount(ratio, n) rows of `batch.x` (in place) by their adversarial
 * examples under `t.attack`, computed with the training graph at its current parameters.
 * `paramGradScratch`: arrays the attack passes' parameter gradients may be written into.
 * Returns how many rows were replaced.
 */
export async function makeAdversarial(
  runner: TrainingRunner,
  batch: Batch,
  indices: Uint32Array,
  maskSeed: number,
  t: AdversarialTraining,
  scratch: AdversarialScratch,
  paramGradScratch: readonly Float32Array[],
  dropout?: number,
): Promise<number> {
  const m = adversarialCount(t.ratio, batch.count);
  if (m === 0) return 0;
  const width = batch.x.length / batch.count;
  const targetWidth = batch.y.length / batch.count;
  const clean = batch.x.subarray(0, m * width);
  const labels = batch.y.subarray(0, m * targetWidth);
  scratch.adversarial = grown(scratch.adversarial, m * width);
  const out = scratch.adversarial.subarray(0, m * width);
  const gradient: InputGradient = async (x, grad) => {
    await runner.step({ x, y: labels, count: m } as Batch, maskSeed, paramGradScratch, dropout, [grad.subarray(0, x.length)]);
  };
  await perturb(t.attack, clean, width, indices.subarray(0, m), maskSeed, gradient, out, scratch.perturb);
  clean.set(out);
  return m;
}

/** The training pass's input-gradient output, written where nobody reads it (no allocation per step). */
export function unusedInputGrads(runner: TrainingRunner, batch: Batch, scratch: AdversarialScratch): Float32Array[] | undefined {
  if (runner.graph.outputs.inputGrads.length === 0) return undefined;
  scratch.unusedInputGrad = grown(scratch.unusedInputGrad, batch.x.length);
  return [scratch.unusedInputGrad.subarray(0, batch.x.length)];
}
