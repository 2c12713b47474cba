/**
 * Objectives with known minima for judging samplers, and the loop that runs a sampler on one:
 * trials one after another (parallel 1), each complete with its function value as val_loss.
 */
import type { ParamSpec } from '../../coordinator/search/space.js';
import type { Sampler, TrialParams, TrialResult } from '../../coordinator/search/sampler.js';

export interface TestFunction {
  params: ParamSpec[];
  f(p: TrialParams): number;
  minimum: number;
}

/** Branin–Hoo on x1 ∈ [−5, 10], x2 ∈ [0, 15]: three global minima of 0.397887. */
export const branin: TestFunction = {
  params: [
    { path: 'x1', kind: 'uniform', low: -5, high: 10 },
    { path: 'x2', kind: 'uniform', low: 0, high: 15 },
  ],
  f(p) {
    const x1 = p['x1'] as number;
    const x2 = p['x2'] as number;
    const b = 5.1 / (4 * Math.PI ** 2);
    const c = 5 / Math.PI;
    const t = 1 / (8 * Math.PI);
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
  },
  minimum: 0.397887,
};

/** (x − 1)² + (y + 2)² on [−5, 5]²: one minimum of 0 at (1, −2), off the centre of the box. */
export const quadratic: TestFunction = {
  params: [
    { path: 'x', kind: 'uniform', low: -5, high: 5 },
    { path: 'y', kind: 'uniform', low: -5, high: 5 },
  ],
  f(p) {
    return ((p['x'] as number) - 1) ** 2 + ((p['y'] as number) + 2) ** 2;
  },
  minimum: 0,
};

/** Runs `trials` trials in sequence and returns the best value found. */
export function bestFound(sampler: Sampler, fn: TestFunction, trials: number): number {
  const history: TrialResult[] = [];
  let best = Infinity;
  for (let trial = 0; trial < trials; trial++) {
    const params = sampler.propose(trial, history)!;
    const value = fn.f(params);
    history.push({ trial, params, state: 'complete', value });
    best = Math.min(best, value);
  }
  return best;
}
