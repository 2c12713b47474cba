import { describe, it, expect } from 'vitest';
import { z } from 'zod';
import { augmentSchema } from '../../shared/augment/schema.js';
import { planAugmentation } from '../../shared/augment/augment.js';
import { AugmentError } from '../../shared/augment/errors.js';
import { ConfigError, validate } from '../../shared/config/validation.js';

/** The block as it sits in a job file. */
const job = z.object({ augment: augmentSchema.optional() }).strict();

function problems(augment: unknown): string[] {
  try {
    validate(job, { augment }, 'job.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('augment config', () => {
  it('fills the defaults: p 1 for crop, 0.5 otherwise; erase area/aspect/value; fill 0', () => {
    const a = augmentSchema.parse({ crop: { padding: 2 }, shift: { max_pixels: 1 }, rotate: { max_degrees: 10 }, flip_horizontal: {}, noise: { std: 0.1 }, erase: {} });
    expect(a.crop).toEqual({ padding: 2, p: 1 });
    expect(a.shift!.p).toBe(0.5);
    expect(a.rotate!.p).toBe(0.5);
    expect(a.flip_horizontal!.p).toBe(0.5);
    expect(a.noise!.p).toBe(0.5);
    expect(a.erase).toEqual({ p: 0.5, area: [0.02, 0.33], aspect: [0.3, 3.3], value: 0 });
    expect(a.fill).toBe(0);
    expect(a.clamp).toBeUndefined();
  });

  it.each([
    [{ crop: { padding: 0 } }, 'augment.crop.padding must be > 0, got 0'],
    [{ crop: { padding: 1.5 } }, 'augment.crop.padding'],
    [{ crop: { padding: 2, pad: 1 } }, "augment.crop has unknown field 'pad'"],
    [{ shift: {} }, 'augment.shift.max_pixels must be a number, got nothing'],
    [{ rotate: { max_degrees: 200 } }, 'augment.rotate.max_degrees must be <= 180, got 200'],
    [{ flip_horizontal: { p: 1.5 } }, 'augment.flip_horizontal.p must be <= 1, got 1.5'],
    [{ noise: { std: -0.1 } }, 'augment.noise.std must be > 0, got -0.1'],
    [{ erase: { area: [0.5, 0.1] } }, 'augment.erase.area must be [low, high] with low <= high, got [0.5,0.1]'],
    [{ erase: { area: [0, 0.1] } }, 'augment.erase.area[0] must be > 0, got 0'],
    [{ erase: { area: [0.1, 2] } }, 'augment.erase.area[1] must be <= 1, got 2'],
    [{ erase: { aspect: [3, 0.3] } }, 'augment.erase.aspect must be [low, high] with low <= high'],
    [{ flip_horizontal: {}, clamp: [1, 0] }, 'augment.clamp must be [low, high] with low <= high'],
    [{ flip_horizontal: {}, fill: 'zero' }, 'augment.fill must be a number, got "zero"'],
    [{ flip_horizontal: {}, image_shape: [1, 28] }, 'augment.image_shape'],
    [{ flip: {} }, "augment has unknown field 'flip'"],
    [{ fill: 0 }, 'augment must enable at least one transform (crop, shift, rotate, flip_horizontal, erase, noise)'],
  ])('%j is refused with a message that names the field', (augment, message) => {
    const found = problems(augment);
    expect(found.some((p) => p.startsWith(message)), `${JSON.stringify(found)} should include ${message}`).toBe(true);
  });
});

describe('planAugmentation', () => {
  const config = augmentSchema.parse({ flip_horizontal: {} });

  it('reads [C, H, W] as is and a flat square [n] as [1, √n, √n]', () => {
    expect(planAugmentation(config, [3, 8, 6])).toMatchObject({ channels: 3, height: 8, width: 6 });
    expect(planAugmentation(config, [784])).toMatchObject({ channels: 1, height: 28, width: 28 });
  });

  it('lets image_shape override a shape with the same element count', () => {
    const c = augmentSchema.parse({ flip_horizontal: {}, image_shape: [3, 4, 2] });
    expect(planAugmentation(c, [24])).toMatchObject({ channels: 3, height: 4, width: 2 });
    expect(planAugmentation(c, [2, 3, 4])).toMatchObject({ channels: 3, height: 4, width: 2 });
  });

  it.each([
    [[785], undefined, 'not a square image'],
    [[28, 28], undefined, 'not an image [channels, height, width]'],
    [[1, 1, 28, 28], undefined, 'not an image'],
    [[784], [2, 28, 28], '[2, 28, 28] holds 1568 values, but a sample has 784'],
    [[0], undefined, 'not a list of positive integers'],
  ] as const)('refuses feature shape %j (image_shape %j) naming augment.image_shape', (shape, imageShape, detail) => {
    const c = augmentSchema.parse({ flip_horizontal: {}, ...(imageShape ? { image_shape: imageShape } : {}) });
    let error: unknown;
    try {
      planAugmentation(c, shape);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AugmentError);
    expect((error as AugmentError).field).toBe('augment.image_shape');
    expect((error as AugmentError).message).toMatch(/^augment\.image_shape: /);
    expect((error as AugmentError).message).toContain(detail);
  });
});
