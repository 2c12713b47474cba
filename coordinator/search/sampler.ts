/**
 * What a hyperparameter sampler promises, and the registry that picks one for a `search:` block.
 * A sampler is a pure function of (seed, trial number, results so far): it keeps no state that a
 * checkpoint would need, so a resumed search that replays the same results proposes the same
 * next trial. Implementations: grid.ts, random.ts, tpe.ts (method `bayesian`).
 */
import type { Objective, ParamValue, SearchConfig } from './space.js';
import { GridSampler } from './grid.js';
import { RandomSampler } from './random.js';
import { TpeSampler } from './tpe.js';

/** A trial's hyperparameters, keyed by dotted path into the job config (`optimizer.lr`). */
export type TrialParams = Readonly<Record<string, ParamValue>>;

/**
 * `complete`: ran to the end; `pruned`: stopped early by ASHA; `failed`: crashed (says nothing
 * about its hyperparameters); `running`: no result yet.
 */
export type TrialState = 'running' | 'complete' | 'pruned' | 'failed';

export interface TrialResult {
  /** Trial number, from 0, in the order trials were proposed. */
  readonly trial: number;
  readonly params: TrialParams;
  readonly state: TrialState;
  /** The objective's metric as measured (not negated): the final value, or the last one reported before pruning. */
  readonly value?: number;
}

export interface Sampler {
  /**
   * Hyperparameters for trial number `trial`, given every result so far (running trials
   * included or not: they are ignored). Undefined when there is nothing left to try.
   */
  propose(trial: number, history: readonly TrialResult[]): TrialParams | undefined;
}

/** The value samplers minimise: the metric itself, or its negation when the objective maximises. */
export function lossOf(value: number, objective: Objective): number {
  return objective.mode === 'max' ? -value : value;
}

/**
 * The sampler a `search:` block asks for, stopping at its trial budget.
 * @param jobSeed used when the block gives no `seed`
 */
export function createSampler(config: SearchConfig, jobSeed: number): Sampler {
  const seed = config.seed ?? jobSeed;
  const inner = pick(config, seed);
  return {
    propose: (trial, history) => (trial >= config.trials ? undefined : inner.propose(trial, history)),
  };
}

function pick(config: SearchConfig, seed: number): Sampler {
  switch (config.method) {
    case 'grid':
      return new GridSampler(config.params);
    case 'random':
      return new RandomSampler(config.params, seed);
    case 'bayesian':
      return new TpeSampler(config.params, config.objective, seed, { startupTrials: config.startup_trials });
  }
}
