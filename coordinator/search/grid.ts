/**
 * Grid search: every combination of the params' values, each once. Trial n is the n-th point of
 * the cartesian product in row-major order: the first param varies slowest and the last fastest
 * (like nested for-loops in the order the params are written); choice values in their listed
 * order, int ranges ascending (low, low+step, …, the largest ≤ high).
 */
import type { ParamSpec, ParamValue } from './space.js';
import { gridSize } from './space.js';
import type { Sampler, TrialParams } from './sampler.js';

/** The values a grid walks for one param, in order. */
export function gridValues(p: ParamSpec): ParamValue[] {
  if (p.kind === 'choice') return [...p.values];
  if (p.kind === 'int') return Array.from({ length: gridSize(p)! }, (_, i) => p.low + i * p.step);
  throw new RangeError(`${p.path}: grid search needs a choice list or an int range, not ${p.kind}`);
}

export class GridSampler implements Sampler {
  private readonly axes: { path: string; values: ParamValue[] }[];
  /** Number of points in the grid. */
  readonly size: number;

  constructor(params: readonly ParamSpec[]) {
    this.axes = params.map((p) => ({ path: p.path, values: gridValues(p) }));
    this.size = this.axes.reduce((n, a) => n * a.values.length, 1);
  }

  /** Point `trial` of the grid; undefined past the last. Results do not matter to a grid. */
  propose(trial: number): TrialParams | undefined {
    if (!Number.isInteger(trial) || trial < 0) throw new RangeError(`trial number must be an integer >= 0, got ${trial}`);
    if (trial >= this.size) return undefined;
    // Mixed-radix digits of `trial`, the last axis least significant.
    const picked: ParamValue[] = [];
    let rest = trial;
    for (let i = this.axes.length - 1; i >= 0; i--) {
      const values = this.axes[i]!.values;
      picked[i] = values[rest % values.length]!;
      rest = Math.floor(rest / values.length);
    }
    return Object.fromEntries(this.axes.map((a, i) => [a.path, picked[i]!]));
  }
}
