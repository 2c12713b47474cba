/**
 * Bootstrap samples for bagging: member m of an ensemble trains on round(fraction·n) indices
 * drawn uniformly with replacement from 0..n−1, with its own seed (deriveSeed(jobSeed,
 * 'bootstrap', m)); the indices never drawn are its out-of-bag set, for an unbiased estimate of
 * that member's error. Integer draws only, so every engine draws the same sample.
 */
import { Rng } from '../../shared/random.js';
import { PlanError } from './errors.js';
import { SeedStream, deriveSeed } from './seeds.js';

export interface BootstrapSample {
  /** Drawn indices in draw order (repeats allowed); length round(fraction·n). */
  indices: Uint32Array;
  /** Indices of 0..n−1 never drawn, ascending. */
  outOfBag: Uint32Array;
}

/**
 * @param n population size (positions 0..n−1 of the training set)
 * @param fraction sample size as a fraction of n (1 = classic bootstrap); round(fraction·n) ≥ 1
 * @param jobSeed the job's seed
 * @param member ensemble member index ≥ 0
 */
export function bootstrapSample(n: number, fraction: number, jobSeed: number, member: number): BootstrapSample {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 32 - 1) throw new PlanError('n', n, 'must be an integer in [1, 2³² − 1]');
  if (!(Number.isFinite(fraction) && fraction > 0)) throw new PlanError('bagging.fraction', fraction, 'must be > 0');
  const size = Math.round(fraction * n);
  if (size < 1) throw new PlanError('bagging.fraction', fraction, `must give at least one sample (round(fraction·${n}) = 0)`);
  if (!Number.isInteger(member) || member < 0) throw new PlanError('member', member, 'must be an integer ≥ 0');
  const rng = Rng.seeded(deriveSeed(jobSeed, SeedStream.bootstrap, member) | 0);
  const indices = new Uint32Array(size);
  const drawn = new Uint8Array(n);
  for (let i = 0; i < size; i++) {
    const k = rng.int(0, n - 1);
    indices[i] = k;
    drawn[k] = 1;
  }
  let oob = 0;
  for (let k = 0; k < n; k++) if (!drawn[k]) oob++;
  const outOfBag = new Uint32Array(oob);
  for (let k = 0, o = 0; k < n; k++) if (!drawn[k]) outOfBag[o++] = k;
  return { indices, outOfBag };
}
