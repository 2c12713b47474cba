/**
 * The job's `adversarial:` block: adversarial training (a share of every micro-batch replaced by
 * its FGSM or PGD examples, built by the worker from the training graph's grad:<input>) and
 * adversarial evaluation (FGSM and PGD accuracy at ε on validation and test). Validation here;
 * the attacks themselves are shared/adversarial/.
 *
 * ```yaml
 * adversarial: { method: fgsm, epsilon: 0.1, ratio: 0.5, range: [0, 1] }
 * ```
 */
import { z } from 'zod';
import { attackSpec, type AttackSpec } from '../../shared/adversarial/attack-spec.js';
import type { AdversarialMeta } from '../../shared/cluster/job-wire.js';
import { deriveSeed, SeedStream } from '../plan/seeds.js';

export const adversarialSchema = z
  .object({
    /** fgsm | pgd: train on adversarial examples; none: train on clean samples, only evaluate the attacks. */
    method: z.enum(['fgsm', 'pgd', 'none']).default('fgsm'),
    /** L∞ radius of the perturbation, in input units. */
    epsilon: z.number().positive(),
    /** PGD iterations in training. */
    steps: z.number().int().min(1).max(100).default(7),
    /** PGD step size (default 2.5·ε/steps, Madry et al.). */
    alpha: z.number().positive().optional(),
    /** PGD starts from a uniform point of the ε-ball. */
    random_start: z.boolean().default(true),
    /** Share of each micro-batch replaced by its adversarial examples (the first round(ratio·n) samples, in the micro-batch's random order). */
    ratio: z.number().gt(0).max(1).default(0.5),
    /** Adversarial inputs are clamped to this range (pixels: [0, 1]); none: unclamped. */
    range: z
      .tuple([z.number(), z.number()])
      .refine(([lo, hi]) => lo < hi, { error: 'range must be [low, high] with low < high' })
      .optional(),
    /** FGSM and PGD accuracy at ε on every validation and test evaluation (each shard attacked on its worker). */
    evaluate: z.boolean().default(true),
    /** PGD iterations in evaluation. */
    eval_steps: z.number().int().min(1).max(200).default(10),
  })
  .strict()
  .refine((a) => a.method !== 'none' || a.evaluate, { error: 'method none trains on clean samples only: it needs evaluate: true to do anything', path: ['evaluate'] });

export type AdversarialConfig = z.output<typeof adversarialSchema>;

/** The attack adversarial training uses, or undefined for `method: none`. */
export function trainingAttack(a: AdversarialConfig): AttackSpec | undefined {
  if (a.method === 'none') return undefined;
  const range = a.range ? { range: a.range } : {};
  return a.method === 'fgsm' ? attackSpec({ method: 'fgsm', epsilon: a.epsilon, ...range }) : attackSpec({ method: 'pgd', epsilon: a.epsilon, steps: a.steps, alpha: a.alpha, randomStart: a.random_start, ...range });
}

/** The attacks evaluations report, in the order of their figures: FGSM, then PGD, both at ε. */
export function evaluationAttacks(a: AdversarialConfig): AttackSpec[] {
  if (!a.evaluate) return [];
  const range = a.range ? { range: a.range } : {};
  return [attackSpec({ method: 'fgsm', epsilon: a.epsilon, ...range }), attackSpec({ method: 'pgd', epsilon: a.epsilon, steps: a.eval_steps, ...range })];
}

/** What workers are told (job metadata): the training attack and its share, the evaluation attacks, and their seed. */
export function adversarialMeta(a: AdversarialConfig, jobSeed: number): AdversarialMeta {
  const train = trainingAttack(a);
  return { ...(train ? { train: { attack: train, ratio: a.ratio } } : {}), evaluate: evaluationAttacks(a), seed: deriveSeed(jobSeed, SeedStream.attack, 0) };
}
