/**
 * What an adversarial attack is: FGSM (Goodfellow et al., one signed-gradient step of size ε) or
 * PGD (Madry et al., `steps` signed-gradient steps of size α, each projected back onto the L∞
 * ball of radius ε around the clean input), optionally clamped to the input's valid range.
 * perturb.ts applies it; the job's `adversarial:` block and `gradfleet eval` build it.
 */

export type AttackMethod = 'fgsm' | 'pgd';
export const ATTACK_METHODS: readonly AttackMethod[] = ['fgsm', 'pgd'];

export interface AttackSpec {
  method: AttackMethod;
  /** L∞ radius, in input units. */
  epsilon: number;
  /** PGD iterations (FGSM: 1). */
  steps: number;
  /** PGD step size (default when built from CLI/job: 2.5·ε/steps). FGSM steps by ε and ignores it. */
  alpha: number;
  /** Clamp the adversarial input to this range (e.g. [0, 1] pixels); absent: unclamped. */
  range?: readonly [number, number];
  /** PGD: start from a uniform point of the ε-ball (Madry et al.). FGSM ignores it. */
  randomStart: boolean;
}

/** A spec that makes no sense; the message names the field and the bad value. */
export class AttackSpecError extends Error {
  override name = 'AttackSpecError';
}

/** PGD iterations when none are given (evaluation strength, as in Madry et al.'s MNIST figures). */
export const DEFAULT_PGD_STEPS = 10;

/** PGD's default step size: 2.5·ε/steps, so that `steps` steps can cross the ball and back (Madry et al.). */
export function defaultAlpha(epsilon: number, steps: number): number {
  return (2.5 * epsilon) / steps;
}

/** Throws AttackSpecError naming the first bad field; returns the spec. */
export function checkAttackSpec(spec: AttackSpec): AttackSpec {
  if (!ATTACK_METHODS.includes(spec.method)) throw new AttackSpecError(`attack method must be one of ${ATTACK_METHODS.join(', ')}, got '${String(spec.method)}'`);
  if (!(Number.isFinite(spec.epsilon) && spec.epsilon > 0)) throw new AttackSpecError(`epsilon must be a finite number > 0, got ${spec.epsilon}`);
  if (!(Number.isInteger(spec.steps) && spec.steps >= 1)) throw new AttackSpecError(`steps must be an integer ≥ 1, got ${spec.steps}`);
  if (spec.method === 'fgsm' && spec.steps !== 1) throw new AttackSpecError(`fgsm takes one step, got steps ${spec.steps} (use pgd for several)`);
  if (!(Number.isFinite(spec.alpha) && spec.alpha > 0)) throw new AttackSpecError(`alpha must be a finite number > 0, got ${spec.alpha}`);
  if (spec.range !== undefined) {
    const [lo, hi] = spec.range;
    if (spec.range.length !== 2 || !Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) throw new AttackSpecError(`range must be [low, high] with finite low < high, got [${spec.range.join(', ')}]`);
  }
  if (typeof spec.randomStart !== 'boolean') throw new AttackSpecError(`randomStart must be true or false, got ${String(spec.randomStart)}`);
  return spec;
}

export interface AttackSpecInput {
  method: string;
  epsilon: number;
  /** Default: 1 for fgsm, DEFAULT_PGD_STEPS for pgd. */
  steps?: number;
  /** Default: ε for fgsm, 2.5·ε/steps for pgd. */
  alpha?: number;
  range?: readonly [number, number];
  /** Default: true for pgd; always false for fgsm. */
  randomStart?: boolean;
}

/** A checked spec with the defaults filled in (what the CLI and the job's `adversarial:` block mean). */
export function attackSpec(o: AttackSpecInput): AttackSpec {
  if (!(ATTACK_METHODS as readonly string[]).includes(o.method)) throw new AttackSpecError(`attack method must be one of ${ATTACK_METHODS.join(', ')}, got '${o.method}'`);
  const method = o.method as AttackMethod;
  const steps = o.steps ?? (method === 'fgsm' ? 1 : DEFAULT_PGD_STEPS);
  const alpha = o.alpha ?? (method === 'fgsm' ? o.epsilon : defaultAlpha(o.epsilon, steps));
  const spec: AttackSpec = { method, epsilon: o.epsilon, steps, alpha, ...(o.range ? { range: [o.range[0], o.range[1]] as const } : {}), randomStart: method === 'pgd' && (o.randomStart ?? true) };
  return checkAttackSpec(spec);
}

/** One line for reports: `PGD-10 (ε=0.1, α=0.025, random start, range [0, 1])`. */
export function describeAttack(spec: AttackSpec): string {
  const parts = [`ε=${spec.epsilon}`];
  if (spec.method === 'pgd') parts.push(`α=${+spec.alpha.toPrecision(6)}`, spec.randomStart ? 'random start' : 'no random start');
  parts.push(spec.range ? `range [${spec.range[0]}, ${spec.range[1]}]` : 'unclamped');
  return `${spec.method === 'fgsm' ? 'FGSM' : `PGD-${spec.steps}`} (${parts.join(', ')})`;
}
