/**
 * Random search: every param drawn independently from its own range, from the trial's seeded
 * stream. TPE uses the same draws for its startup trials, so a bayesian search starts exactly
 * as a random search with the same seed does.
 */
import type { Rng } from '../../shared/random.js';
import type { ParamSpec, ParamValue } from './space.js';
import { gridSize } from './space.js';
import type { Sampler, TrialParams } from './sampler.js';
import { TrialStreams } from './trial-rng.js';

/** One draw from `p`'s prior: uniform on its range (in log space for log params). */
export function drawParam(p: ParamSpec, rng: Rng): ParamValue {
  switch (p.kind) {
    case 'choice':
      return p.values[rng.int(0, p.values.length - 1)]!;
    case 'uniform':
      return p.low + (p.high - p.low) * rng.uniform();
    case 'log_uniform': {
      const x = Math.exp(Math.log(p.low) + (Math.log(p.high) - Math.log(p.low)) * rng.uniform());
      // exp(log(x)) may land an ulp outside the range.
      return Math.min(p.high, Math.max(p.low, x));
    }
    case 'int':
      if (!p.log) return p.low + p.step * rng.int(0, gridSize(p)! - 1);
      // Each integer k owns [k − ½, k + ½), stretched evenly in log space (as Optuna's log int).
      return Math.min(p.high, Math.max(p.low, Math.round(Math.exp(Math.log(p.low - 0.5) + (Math.log(p.high + 0.5) - Math.log(p.low - 0.5)) * rng.uniform()))));
  }
}

/** Every param drawn in the order the params are written. */
export function drawAll(params: readonly ParamSpec[], rng: Rng): TrialParams {
  return Object.fromEntries(params.map((p) => [p.path, drawParam(p, rng)]));
}

export class RandomSampler implements Sampler {
  private readonly streams: TrialStreams;

  constructor(
    private readonly params: readonly ParamSpec[],
    seed: number,
  ) {
    this.streams = new TrialStreams(seed);
  }

  /** Independent draws for trial `trial`; results do not matter to random search. */
  propose(trial: number): TrialParams {
    return drawAll(this.params, this.streams.forTrial(trial));
  }
}
