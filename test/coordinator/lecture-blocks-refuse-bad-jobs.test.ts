/**
 * The job file's `augment:`, `adversarial:` and `model.qat` blocks: bad values are refused with
 * the field named, and jobs the features cannot serve (a regression model under attack, an
 * augmentation whose image shape does not fit the data) are refused when the job loads, before
 * any worker sees them. The accepted blocks resolve to the attacks the workers run.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/config/validation.js';
import { loadJob, parseJob } from '../../coordinator/job/load.js';
import { adversarialMeta, evaluationAttacks, trainingAttack } from '../../coordinator/job/adversarial.js';
import type { JobInput } from '../../coordinator/job/schema.js';

const base = (extra: Record<string, unknown>): JobInput => ({ name: 'blocks', data: { source: 'digits', limit: 300, split: { validation: 50, test: 50 } }, ...extra }) as JobInput;

function problemsOf(job: JobInput): string[] {
  try {
    parseJob(job, 'job.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('the job was accepted');
}

async function loadProblems(job: JobInput): Promise<string[]> {
  try {
    await loadJob(parseJob(job, 'job.yaml'), 'job.yaml', process.cwd());
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('the job loaded');
}

describe('the lecture blocks of a job file', () => {
  it('names the adversarial field that is wrong', () => {
    expect(problemsOf(base({ adversarial: { epsilon: -0.1 } })).join('\n')).toMatch(/^adversarial\.epsilon\b/m);
    expect(problemsOf(base({ adversarial: { epsilon: 0.1, range: [1, 0] } })).join('\n')).toMatch(/^adversarial\.range\b.*low < high/m);
    expect(problemsOf(base({ adversarial: { epsilon: 0.1, method: 'cw' } })).join('\n')).toMatch(/^adversarial\.method\b/m);
    expect(problemsOf(base({ adversarial: { epsilon: 0.1, method: 'none', evaluate: false } })).join('\n')).toMatch(/^adversarial\.evaluate\b.*needs evaluate: true/m);
    expect(problemsOf(base({ adversarial: { epsilon: 0.1, ratio: 0 } })).join('\n')).toMatch(/^adversarial\.ratio\b/m);
  });

  it('names the augment and qat fields that are wrong', () => {
    expect(problemsOf(base({ augment: { crop: { padding: 0 } } })).join('\n')).toMatch(/^augment\.crop\.padding\b/m);
    expect(problemsOf(base({ augment: { flip: { p: 0.5 } } })).join('\n')).toMatch(/augment.*flip/m);
    expect(problemsOf(base({ model: { spec: 'default', qat: { weights: false, activations: false } } })).join('\n')).toMatch(/^model\.qat\b/m);
  });

  it('resolves the block into the attacks workers run: FGSM at ε, PGD with α = 2.5·ε/steps, the job-derived seed', () => {
    const job = parseJob(base({ seed: 9, adversarial: { method: 'pgd', epsilon: 0.2, steps: 5, range: [0, 1], eval_steps: 8 } }), 'job.yaml');
    const a = job.adversarial!;
    expect(trainingAttack(a)).toEqual({ method: 'pgd', epsilon: 0.2, steps: 5, alpha: 0.1, range: [0, 1], randomStart: true });
    expect(evaluationAttacks(a).map((s) => [s.method, s.steps, s.alpha])).toEqual([
      ['fgsm', 1, 0.2],
      ['pgd', 8, (2.5 * 0.2) / 8],
    ]);
    const meta = adversarialMeta(a, 9);
    expect(meta.train?.ratio).toBe(0.5);
    expect(adversarialMeta(a, 10).seed).not.toBe(meta.seed);
    expect(trainingAttack({ ...a, method: 'none' })).toBeUndefined();
  });

  it('refuses attacks on a regression model and an image shape that does not fit the data, when the job loads', async () => {
    const regression = { spec: { input: { shape: [784] }, layers: [{ type: 'dense', units: 10 }], loss: 'mse' } };
    expect((await loadProblems(base({ model: regression, adversarial: { epsilon: 0.1 } }))).join('\n')).toMatch(/adversarial: needs a classification model/);
    expect((await loadProblems(base({ augment: { crop: { padding: 2 }, image_shape: [3, 28, 28] } }))).join('\n')).toMatch(/augment\.image_shape/);
  });
});
