/**
 * Data augmentation of training batches, deterministic per sample.
 *
 * Order (fixed): crop, shift, rotate, flip, erase, noise, then clamp. Each transform decides
 * whether it applies (probability p) and draws its parameters from its own stream, keyed by
 * (seed, dataset sample index, transform tag) with integer hashing (sample-random.ts, draws.ts):
 * a sample's augmentation is the same bits on every machine and JS engine, for any worker, batch
 * split, position in the batch or resume, and turning one transform off or changing its
 * parameters leaves the other transforms' draws unchanged. The seed is the caller's: pass a
 * different one per epoch (e.g. maskSeed(jobSeed, epoch)), or every epoch sees each sample
 * augmented the same way.
 *
 * Floating point is limited to + − × ÷, Math.sqrt, Math.floor, Math.round, Math.min/max: rotation uses
 * polynomial sine/cosine (trig.ts), noise the Irwin–Hall sum of 12 uniforms (transforms.ts).
 */
import { AugmentError } from './errors.js';
import type { AugmentPlan } from './plan.js';
import { drawSample, emptyDraws, type SampleDraws } from './draws.js';
import { sinCosDegrees } from './trig.js';
import { NOISE_VARIANCE, addNoise, clampRange, eraseRect, flipHorizontal, rotateBilinear, translate } from './transforms.js';

export { planAugmentation, type AugmentPlan } from './plan.js';
export { describeSample, type SampleDraws } from './draws.js';

export class Augmenter {
  readonly plan: AugmentPlan;
  /** Values per sample, C·H·W. */
  readonly sampleSize: number;
  /** The other half of the geometric transforms' ping-pong (a sample's slot in the batch is one). */
  private readonly scratch: Float32Array;
  private readonly draws: SampleDraws = emptyDraws();
  private readonly sinCos = new Float64Array(2);
  private readonly noiseScale: number;

  constructor(plan: AugmentPlan) {
    const { channels: c, height: h, width: w } = plan;
    if (![c, h, w].every((d) => Number.isSafeInteger(d) && d > 0)) throw new AugmentError('augment.image_shape', `[${c}, ${h}, ${w}] is not a list of positive integers`);
    this.plan = plan;
    this.sampleSize = c * h * w;
    this.scratch = new Float32Array(this.sampleSize);
    this.noiseScale = plan.noise ? plan.noise.std / Math.sqrt(NOISE_VARIANCE) : 0;
  }

  /**
   * Augments a batch in place: x is count × C×H×W float32 row-major (count = indices.length);
   * sample k is dataset sample indices[k]. Its randomness depends only on (seed, indices[k]) —
   * never on k, the batch, the other samples, or how many times apply ran — so any worker, any
   * batch split and any resume see the same augmented sample. Allocates nothing: the scratch
   * buffers are the Augmenter's, made with it.
   */
  apply(x: Float32Array, indices: ArrayLike<number>, seed: number): void {
    const count = indices.length;
    const size = this.sampleSize;
    if (x.length !== count * size) {
      throw new AugmentError('augment.image_shape', `a batch of ${count} samples of ${this.plan.channels}×${this.plan.height}×${this.plan.width} holds ${count * size} values, got ${x.length}`);
    }
    if (!Number.isSafeInteger(seed)) throw new AugmentError('seed', `the augmentation seed must be an integer, got ${seed}`);
    for (let k = 0; k < count; k++) {
      const index = indices[k]!;
      if (!Number.isSafeInteger(index) || index < 0) throw new AugmentError('augment', `batch index ${k} is ${index}, not a sample index`);
      this.sample(x, k * size, index, seed);
    }
  }

  private sample(x: Float32Array, off: number, index: number, seed: number): void {
    const plan = this.plan;
    const d = drawSample(plan, seed, index, this.draws);
    const c = plan.channels;
    const h = plan.height;
    const w = plan.width;
    const fill = plan.fill;
    // The image lives in x at off, or in scratch at 0 after an odd number of geometric steps.
    let inScratch = false;
    if (d.crop) {
      const pad = plan.crop!.padding;
      this.step(inScratch, x, off, c, h, w, d.cropY - pad, d.cropX - pad, fill);
      inScratch = !inScratch;
    }
    if (d.shift) {
      this.step(inScratch, x, off, c, h, w, -d.shiftY, -d.shiftX, fill);
      inScratch = !inScratch;
    }
    if (d.rotate) {
      sinCosDegrees(d.degrees, this.sinCos);
      if (inScratch) rotateBilinear(this.scratch, 0, x, off, c, h, w, this.sinCos[0]!, this.sinCos[1]!, fill);
      else rotateBilinear(x, off, this.scratch, 0, c, h, w, this.sinCos[0]!, this.sinCos[1]!, fill);
      inScratch = !inScratch;
    }
    const buf = inScratch ? this.scratch : x;
    const o = inScratch ? 0 : off;
    if (d.flip) flipHorizontal(buf, o, c, h, w);
    if (d.erase) eraseRect(buf, o, c, h, w, d.eraseX, d.eraseY, d.eraseWidth, d.eraseHeight, plan.erase!.value);
    if (d.noise) addNoise(buf, o, this.sampleSize, d.noiseKey, this.noiseScale);
    if (plan.clamp) clampRange(buf, o, this.sampleSize, plan.clamp[0], plan.clamp[1]);
    if (inScratch) x.set(this.scratch, off);
  }

  /** One translation from wherever the image is to the other buffer. */
  private step(inScratch: boolean, x: Float32Array, off: number, c: number, h: number, w: number, ty: number, tx: number, fill: number): void {
    if (inScratch) translate(this.scratch, 0, x, off, c, h, w, ty, tx, fill);
    else translate(x, off, this.scratch, 0, c, h, w, ty, tx, fill);
  }
}
