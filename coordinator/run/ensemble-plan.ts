/**
 * What each bagging member trains on: its bootstrap sample of the job's training indices, its
 * out-of-bag set, its seed and the seed of its initial weights. A pure function of (training
 * indices, ensemble config), so a restarted coordinator plans the same members.
 *
 *   member k: positions = bootstrapSample(n, fraction, seed, k)   (draws from 0..n−1, repeats kept)
 *             trainIndices     = jobTrain[positions]               (dataset indices, draw order)
 *             outOfBagIndices  = jobTrain[positions never drawn]   (ascending)
 *             seed             = deriveSeed(seed, 'bootstrap', k)
 *             initSeed         = the job's seed                    (init: shared, every member)
 *                                seed, the member's own            (init: per_member)
 *
 * The member's seed is the seed of its bootstrap draw; its epoch permutations and dropout masks
 * derive from it through their own tags (deriveSeed(·, 'epoch', e), maskSeed(·, step, j)), so
 * they never coincide with the draw itself, and members never share a stream.
 *
 * initSeed is the model's init seed for the member. `shared`: the job's seed, which initialised
 * the job's model, so every member starts from the same weights. `per_member`: the member's seed,
 * so member k starts as a plain job with that seed would. Weights hash their seed with the
 * parameter name under their own prefix (SHA-256, shared/model/init.ts paramStream), so they
 * share no state with the bootstrap draw, the permutations or the masks.
 */
import { bootstrapSample } from '../plan/bootstrap.js';
import { SeedStream, deriveSeed } from '../plan/seeds.js';
import type { EnsembleInit } from '../job/schema.js';

export interface MemberPlan {
  member: number;
  /** Seed of the member's permutations and dropout masks. */
  seed: number;
  /** Seed its initial weights are drawn with (the model's init seed). */
  initSeed: number;
  /** Dataset indices the member trains on, in draw order (repeats allowed); length round(fraction·n). */
  trainIndices: Uint32Array;
  /** Dataset indices of the training samples the bootstrap never drew, ascending by position. */
  outOfBagIndices: Uint32Array;
  /** How many different training samples were drawn (n − |out of bag|). */
  distinct: number;
}

export interface BaggingConfig {
  members: number;
  sampleFraction: number;
  seed: number;
  /** `ensemble.init`: whether members start from the job's weights or draw their own. */
  init: EnsembleInit;
  /** The seed the job's model was initialised with (the job's seed). */
  jobInitSeed: number;
}

/** One plan per member, for the job's training indices (the population of every bootstrap). */
export function planMembers(jobTrainIndices: Uint32Array, c: BaggingConfig): MemberPlan[] {
  const n = jobTrainIndices.length;
  return Array.from({ length: c.members }, (_, member) => {
    const { indices, outOfBag } = bootstrapSample(n, c.sampleFraction, c.seed, member);
    const seed = deriveSeed(c.seed, SeedStream.bootstrap, member);
    return {
      member,
      seed,
      initSeed: c.init === 'per_member' ? seed : c.jobInitSeed,
      trainIndices: indices.map((pos) => jobTrainIndices[pos]!),
      outOfBagIndices: outOfBag.map((pos) => jobTrainIndices[pos]!),
      distinct: n - outOfBag.length,
    };
  });
}
