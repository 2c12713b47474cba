/** zod fields shared by the dataset sources' config schemas, with messages that name the rule. */
import { z } from 'zod';

export const positiveInt = () => z.number({ error: 'must be a positive integer' }).int({ error: 'must be a positive integer' }).positive({ error: 'must be a positive integer' });

/** Use only the first n samples (a quick run). */
export const limitField = positiveInt().optional();

/** Per-sample feature shape, e.g. [1, 28, 28] for a CNN; must hold as many values as the source gives. */
export const shapeField = z.array(positiveInt(), { error: 'must be a list of positive integers' }).min(1, { error: 'must list at least one dimension' }).optional();

export const pathField = z.string({ error: 'must be a file path' }).min(1, { error: 'must be a file path' });

/** A held-out part: 0, a fraction in (0, 1), or a whole count. */
const amount = z
  .number({ error: 'must be a fraction in (0, 1) or a whole count' })
  .refine((v) => v === 0 || (v > 0 && v < 1) || (Number.isInteger(v) && v >= 1), { error: 'must be a fraction in (0, 1) or a whole count' });

/** How a dataset is split (see split.ts): `{ validation: 0.1, test: 'source' | 0.1, seed }`. */
export const splitField = z
  .strictObject({
    validation: amount.default(0.1),
    /** Default: the source's own test set when it has one, else 0.1. */
    test: z.union([amount, z.literal('source')], { error: "must be a fraction in (0, 1), a whole count or 'source'" }).optional(),
    /** Default: the job's seed. */
    seed: z.number({ error: 'must be an integer' }).int({ error: 'must be an integer' }).optional(),
  })
  .default({ validation: 0.1 });
