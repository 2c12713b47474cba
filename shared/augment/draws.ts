/**
 * What one sample's augmentation draws: each transform's decision and parameters, from that
 * transform's own stream (sample-random.ts), in a fixed order within the stream:
 *
 * | transform | tag | draw 0   | then                                                              |
 * |-----------|-----|----------|-------------------------------------------------------------------|
 * | crop      | 1   | u < p    | 1: x offset, 2: y offset, integers in [0, 2·padding]              |
 * | shift     | 2   | u < p    | 1: dx, 2: dy, integers in [−max_pixels, max_pixels]               |
 * | rotate    | 3   | u < p    | 1: degrees = max_degrees·(2u − 1), in [−max, max)                  |
 * | flip      | 4   | u < p    | —                                                                 |
 * | erase     | 5   | u < p    | attempt a = 0..9: 4a+1 area, 4a+2 aspect, 4a+3 top row, 4a+4 left |
 * | noise     | 6   | u < p    | 3e+1..3e+3: the 12 bytes of value e's noise (transforms.ts)       |
 *
 * Erase (Zhong et al., Algorithm 1): target area S = H·W·U(area), aspect r = U(aspect) (uniform, as
 * in the paper; torchvision draws log r uniformly instead), height round(√(S·r)), width
 * round(√(S/r)); an attempt is kept when the rectangle fits the image and its rounded area is
 * within the area range, else the next attempt is drawn; after 10 failed attempts nothing is
 * erased. The position is uniform over the places where the rectangle fits.
 *
 * Draws are random access (a draw's bits depend only on its stream and number), so skipping
 * some (an erase that does not apply) never moves the others, and what a sample draws depends
 * only on (seed, index, plan): never on its place in a batch or on what ran before.
 */
import type { AugmentPlan } from './plan.js';
import { TAG, drawInt, drawUniform, streamKey } from './sample-random.js';

export interface SampleDraws {
  crop: boolean;
  /** Offset of the H×W window in the padded image, in [0, 2·padding]. */
  cropX: number;
  cropY: number;
  shift: boolean;
  /** Content moves right by shiftX, down by shiftY. */
  shiftX: number;
  shiftY: number;
  rotate: boolean;
  /** Counter-clockwise as displayed. */
  degrees: number;
  flip: boolean;
  /** Whether a rectangle is erased (decided and one of the attempts fit). */
  erase: boolean;
  eraseX: number;
  eraseY: number;
  eraseWidth: number;
  eraseHeight: number;
  noise: boolean;
  /** Key of the noise stream (the values' draws start at draw 1). */
  noiseKey: number;
}

export const ERASE_ATTEMPTS = 10;

export function emptyDraws(): SampleDraws {
  return { crop: false, cropX: 0, cropY: 0, shift: false, shiftX: 0, shiftY: 0, rotate: false, degrees: 0, flip: false, erase: false, eraseX: 0, eraseY: 0, eraseWidth: 0, eraseHeight: 0, noise: false, noiseKey: 0 };
}

/** Fills `out` with the draws of sample `index` under `seed` (no allocation). */
export function drawSample(plan: AugmentPlan, seed: number, index: number, out: SampleDraws): SampleDraws {
  const { height: h, width: w } = plan;
  out.crop = out.shift = out.rotate = out.flip = out.erase = out.noise = false;
  if (plan.crop) {
    const key = streamKey(seed, index, TAG.crop);
    out.crop = drawUniform(key, 0) < plan.crop.p;
    out.cropX = drawInt(key, 1, 0, 2 * plan.crop.padding);
    out.cropY = drawInt(key, 2, 0, 2 * plan.crop.padding);
  }
  if (plan.shift) {
    const key = streamKey(seed, index, TAG.shift);
    const m = plan.shift.maxPixels;
    out.shift = drawUniform(key, 0) < plan.shift.p;
    out.shiftX = drawInt(key, 1, -m, m);
    out.shiftY = drawInt(key, 2, -m, m);
  }
  if (plan.rotate) {
    const key = streamKey(seed, index, TAG.rotate);
    out.rotate = drawUniform(key, 0) < plan.rotate.p;
    out.degrees = plan.rotate.maxDegrees * (2 * drawUniform(key, 1) - 1);
  }
  if (plan.flipHorizontal) {
    out.flip = drawUniform(streamKey(seed, index, TAG.flip), 0) < plan.flipHorizontal.p;
  }
  if (plan.erase) {
    const e = plan.erase;
    const key = streamKey(seed, index, TAG.erase);
    if (drawUniform(key, 0) < e.p) {
      const pixels = h * w;
      for (let a = 0; a < ERASE_ATTEMPTS; a++) {
        const target = pixels * (e.area[0] + (e.area[1] - e.area[0]) * drawUniform(key, 4 * a + 1));
        const aspect = e.aspect[0] + (e.aspect[1] - e.aspect[0]) * drawUniform(key, 4 * a + 2);
        const eh = Math.round(Math.sqrt(target * aspect));
        const ew = Math.round(Math.sqrt(target / aspect));
        if (eh < 1 || ew < 1 || eh > h || ew > w) continue;
        const share = (eh * ew) / pixels;
        if (share < e.area[0] || share > e.area[1]) continue;
        out.erase = true;
        out.eraseHeight = eh;
        out.eraseWidth = ew;
        out.eraseY = drawInt(key, 4 * a + 3, 0, h - eh);
        out.eraseX = drawInt(key, 4 * a + 4, 0, w - ew);
        break;
      }
    }
  }
  if (plan.noise) {
    const key = streamKey(seed, index, TAG.noise);
    out.noise = drawUniform(key, 0) < plan.noise.p;
    out.noiseKey = key;
  }
  return out;
}

/** The draws of one sample, as a fresh object (for tests, logs and debugging). */
export function describeSample(plan: AugmentPlan, seed: number, index: number): SampleDraws {
  return drawSample(plan, seed, index, emptyDraws());
}
