/**
 * The job file's `augment:` block: which data-augmentation transforms run on training samples,
 * with what probability and strength. Field names are snake_case in YAML; every level is strict
 * (unknown fields are errors) and every error names its field through the zod path
 * (`augment.erase.area[0] must be > 0`), including the cross-field checks below.
 *
 * ```yaml
 * augment:
 *   crop:    { padding: 2, p: 1 }                 # pad by `padding` (fill), crop back to H×W at a random offset
 *   shift:   { max_pixels: 2, p: 0.5 }            # translate by integers dx, dy in [-max, max]
 *   rotate:  { max_degrees: 10, p: 0.5 }          # about the centre, bilinear; up to 180
 *   flip_horizontal: { p: 0.5 }                   # mirror left-right (turns some digits into others!)
 *   noise:   { std: 0.05, p: 0.5 }                # additive Gaussian-like noise (Irwin–Hall, see transforms.ts)
 *   erase:   { p: 0.5, area: [0.02, 0.33], aspect: [0.3, 3.3], value: 0 }   # random erasing of one rectangle
 *   fill: 0                                        # value of pixels that come from outside the image
 *   clamp: [0, 1]                                  # optional: clamp every pixel of an augmented sample, last
 *   image_shape: [1, 28, 28]                       # optional: how to read a sample's features as C×H×W
 * ```
 *
 * p defaults to 1 for crop and 0.5 for every other transform. At least one transform must be given.
 */
import { z } from 'zod';

/** The transform fields, in the order they run (see augment.ts). */
export const TRANSFORM_FIELDS = ['crop', 'shift', 'rotate', 'flip_horizontal', 'erase', 'noise'] as const;

const probability = z.number().min(0).max(1);
const positiveInt = z.number().int().positive();
const positive = z.number().positive();
/** [lo, hi] with lo <= hi; the element checks come from `element`. */
const range = (element: z.ZodNumber) =>
  z.tuple([element, element]).refine((r) => r[0] <= r[1], { error: 'must be [low, high] with low <= high' });

export const cropSchema = z
  .object({
    /** Pixels of `fill` added on every side before the random H×W crop (offsets 0..2·padding per axis). */
    padding: positiveInt,
    p: probability.default(1),
  })
  .strict();

export const shiftSchema = z
  .object({
    /** dx and dy are drawn independently and uniformly from the integers in [-max_pixels, max_pixels]. */
    max_pixels: positiveInt,
    p: probability.default(0.5),
  })
  .strict();

export const rotateSchema = z
  .object({
    /** The angle is uniform in [-max_degrees, max_degrees); positive turns counter-clockwise. */
    max_degrees: positive.max(180),
    p: probability.default(0.5),
  })
  .strict();

export const flipSchema = z
  .object({
    p: probability.default(0.5),
  })
  .strict();

export const noiseSchema = z
  .object({
    /** Standard deviation of the additive noise, in the features' own units. */
    std: positive,
    p: probability.default(0.5),
  })
  .strict();

export const eraseSchema = z
  .object({
    p: probability.default(0.5),
    /** The rectangle's area as a fraction of H·W, uniform in [low, high] (torchvision's default scale). */
    area: range(z.number().positive().max(1)).default([0.02, 0.33]),
    /** The rectangle's height/width, uniform in [low, high] (Zhong et al.'s r₁ = 0.3, 1/r₁). */
    aspect: range(z.number().positive()).default([0.3, 3.3]),
    /** The value written into every channel of the rectangle. */
    value: z.number().default(0),
  })
  .strict();

export const augmentSchema = z
  .object({
    crop: cropSchema.optional(),
    shift: shiftSchema.optional(),
    rotate: rotateSchema.optional(),
    flip_horizontal: flipSchema.optional(),
    noise: noiseSchema.optional(),
    erase: eraseSchema.optional(),
    /** The value of pixels that come from outside the image (crop padding, shifts, rotation corners). */
    fill: z.number().default(0),
    /** Optional [low, high]: every pixel of an augmented sample is clamped to it, after the noise. */
    clamp: range(z.number()).optional(),
    /** How a sample's features read as [channels, height, width]; must hold as many values as a sample. */
    image_shape: z.tuple([positiveInt, positiveInt, positiveInt]).optional(),
  })
  .strict()
  .refine((a) => TRANSFORM_FIELDS.some((f) => a[f] !== undefined), {
    error: `must enable at least one transform (${TRANSFORM_FIELDS.join(', ')})`,
  });

export type AugmentConfig = z.output<typeof augmentSchema>;
/** What a job file may write (defaults not yet applied). */
export type AugmentConfigInput = z.input<typeof augmentSchema>;
