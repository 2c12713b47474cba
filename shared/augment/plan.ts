/**
 * The augmentation config resolved against the data: the image's C×H×W and each enabled
 * transform's parameters. Plain data (JSON-serialisable), so a coordinator can send it as is.
 */
import type { AugmentConfig } from './schema.js';
import { AugmentError } from './errors.js';

export interface AugmentPlan {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** Value of pixels that come from outside the image. */
  readonly fill: number;
  readonly crop: { readonly padding: number; readonly p: number } | null;
  readonly shift: { readonly maxPixels: number; readonly p: number } | null;
  readonly rotate: { readonly maxDegrees: number; readonly p: number } | null;
  readonly flipHorizontal: { readonly p: number } | null;
  readonly erase: {
    readonly p: number;
    readonly area: readonly [number, number];
    readonly aspect: readonly [number, number];
    readonly value: number;
  } | null;
  readonly noise: { readonly std: number; readonly p: number } | null;
  readonly clamp: readonly [number, number] | null;
}

const FIELD = 'augment.image_shape';

function isPositiveInt(d: number): boolean {
  return Number.isSafeInteger(d) && d > 0;
}

/** [C, H, W] of one sample, or an AugmentError naming augment.image_shape. */
function imageShape(config: AugmentConfig, featureShape: readonly number[]): [number, number, number] {
  const shown = `[${featureShape.join(', ')}]`;
  if (featureShape.length === 0 || !featureShape.every(isPositiveInt)) throw new AugmentError(FIELD, `a sample's feature shape ${shown} is not a list of positive integers`);
  const count = featureShape.reduce((a, d) => a * d, 1);
  if (config.image_shape) {
    const [c, h, w] = config.image_shape;
    if (c * h * w !== count) throw new AugmentError(FIELD, `[${c}, ${h}, ${w}] holds ${c * h * w} values, but a sample has ${count} (shape ${shown})`);
    return [c, h, w];
  }
  if (featureShape.length === 3) return [featureShape[0]!, featureShape[1]!, featureShape[2]!];
  if (featureShape.length === 1) {
    const side = Math.round(Math.sqrt(count));
    if (side * side === count) return [1, side, side];
    throw new AugmentError(FIELD, `a sample of ${count} values (shape ${shown}) is not a square image: give augment.image_shape as [channels, height, width]`);
  }
  throw new AugmentError(FIELD, `a sample of shape ${shown} is not an image [channels, height, width]: give augment.image_shape`);
}

/**
 * Resolves the config against one sample's feature shape: [C,H,W] used as is; a flat [n] with n
 * a perfect square reads as [1,√n,√n] (the bundled digits are [784]); `image_shape` overrides and
 * must have the same element count. Anything else throws AugmentError naming
 * `augment.image_shape`.
 */
export function planAugmentation(config: AugmentConfig, featureShape: readonly number[]): AugmentPlan {
  const [channels, height, width] = imageShape(config, featureShape);
  const e = config.erase;
  return {
    channels,
    height,
    width,
    fill: config.fill,
    crop: config.crop ? { padding: config.crop.padding, p: config.crop.p } : null,
    shift: config.shift ? { maxPixels: config.shift.max_pixels, p: config.shift.p } : null,
    rotate: config.rotate ? { maxDegrees: config.rotate.max_degrees, p: config.rotate.p } : null,
    flipHorizontal: config.flip_horizontal ? { p: config.flip_horizontal.p } : null,
    erase: e ? { p: e.p, area: [e.area[0], e.area[1]], aspect: [e.aspect[0], e.aspect[1]], value: e.value } : null,
    noise: config.noise ? { std: config.noise.std, p: config.noise.p } : null,
    clamp: config.clamp ? [config.clamp[0], config.clamp[1]] : null,
  };
}
