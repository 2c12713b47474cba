/**
 * Bayesian search by the Tree-structured Parzen Estimator (Bergstra et al. 2011), the
 * independent (univariate) variant of Optuna's TPESampler:
 *
 *   finished results ─► split by loss: good = best ⌈γ·n⌉ (≥ 1), bad = the rest
 *                    ─► per param: l(x) fitted to the good values, g(x) to the bad ones
 *                    ─► draw 24 candidates from l, keep the one with the largest l(x)/g(x)
 *
 * Until `startupTrials` results are finished, trials are drawn as random search draws them.
 * Which results count: `complete` ones are ranked by loss (the metric, negated when maximised);
 * `pruned` ones, and complete ones whose value is not finite (a diverged run), are always bad:
 * they lost to their peers, and their last values were taken at fewer steps than the complete
 * ones', so ranking them by value would compare unlike things. `running` and `failed` results
 * are ignored (a crash says nothing about the hyperparameters).
 */
import type { Objective, ParamSpec, ParamValue } from './space.js';
import type { Sampler, TrialParams, TrialResult } from './sampler.js';
import { lossOf } from './sampler.js';
import { drawAll } from './random.js';
import { CategoricalEstimator, TruncatedGaussianMixture } from './parzen.js';
import { TrialStreams } from './trial-rng.js';
import type { Rng } from '../../shared/random.js';

export interface TpeOptions {
  /** Finished results needed before TPE takes over from random draws. */
  startupTrials: number;
  /**
   * Good = the best ⌈γ·n⌉ of n finished results (at least 1, complete ones only). 0.25 is
   * hyperopt's γ, here applied to n itself (hyperopt takes ⌈γ·√n⌉, Optuna min(⌈0.1·n⌉, 25)).
   */
  gamma?: number;
  /** Candidates drawn from l(x) per param (Optuna's n_ei_candidates). */
  candidates?: number;
}

/** The finished results, split as described above; each list in trial-number order. */
export function splitGoodBad(history: readonly TrialResult[], objective: Objective, gamma: number): { good: TrialResult[]; bad: TrialResult[] } {
  const byTrial = [...history].sort((a, b) => a.trial - b.trial);
  const finished = byTrial.filter((r) => r.state === 'complete' || r.state === 'pruned');
  const ranked = finished
    .filter((r) => r.state === 'complete' && Number.isFinite(r.value))
    .map((r) => ({ r, loss: lossOf(r.value!, objective) }))
    .sort((a, b) => a.loss - b.loss || a.r.trial - b.r.trial);
  const nGood = Math.min(ranked.length, Math.max(1, Math.ceil(gamma * finished.length)));
  const good = new Set(ranked.slice(0, nGood).map((x) => x.r));
  return { good: finished.filter((r) => good.has(r)), bad: finished.filter((r) => !good.has(r)) };
}

/** A numeric param's working space: where its Parzen estimators live and candidates are drawn. */
interface NumericAxis {
  low: number;
  high: number;
  toWorking(v: number): number;
  /** Back to a param value: exp for log params, then onto the int grid for ints. */
  fromWorking(x: number): number;
}

function numericAxis(p: Exclude<ParamSpec, { kind: 'choice' }>): NumericAxis {
  const log = p.kind === 'log_uniform' || (p.kind === 'int' && p.log);
  const to = log ? Math.log : (v: number) => v;
  const clamp = (v: number) => Math.min(p.high, Math.max(p.low, v));
  if (p.kind !== 'int') return { low: to(p.low), high: to(p.high), toWorking: to, fromWorking: (x) => clamp(log ? Math.exp(x) : x) };
  // An int treated as continuous: each grid value owns half a step either side (log ints step by 1).
  const half = p.step / 2;
  return {
    low: to(p.low - half),
    high: to(p.high + half),
    toWorking: to,
    fromWorking: (x) => clamp(p.low + p.step * Math.round(((log ? Math.exp(x) : x) - p.low) / p.step)),
  };
}

function numericObservations(p: Exclude<ParamSpec, { kind: 'choice' }>, results: readonly TrialResult[]): number[] {
  const vs = results.map((r) => r.params[p.path]);
  // A result from before the space was edited may hold a value outside it: it says nothing here.
  return vs.filter((v): v is number => typeof v === 'number' && v >= p.low && v <= p.high);
}

export class TpeSampler implements Sampler {
  private readonly streams: TrialStreams;
  private readonly gamma: number;
  private readonly candidates: number;
  private readonly startupTrials: number;

  constructor(
    private readonly params: readonly ParamSpec[],
    private readonly objective: Objective,
    seed: number,
    options: TpeOptions,
  ) {
    this.streams = new TrialStreams(seed);
    this.startupTrials = options.startupTrials;
    this.gamma = options.gamma ?? 0.25;
    this.candidates = options.candidates ?? 24;
  }

  propose(trial: number, history: readonly TrialResult[]): TrialParams {
    const rng = this.streams.forTrial(trial);
    const { good, bad } = splitGoodBad(history, this.objective, this.gamma);
    if (good.length + bad.length < this.startupTrials) return drawAll(this.params, rng);
    return Object.fromEntries(this.params.map((p) => [p.path, this.suggest(p, good, bad, rng)]));
  }

  private suggest(p: ParamSpec, good: readonly TrialResult[], bad: readonly TrialResult[], rng: Rng): ParamValue {
    if (p.kind === 'choice') {
      const indices = (rs: readonly TrialResult[]) => rs.map((r) => p.values.indexOf(r.params[p.path]!)).filter((i) => i >= 0);
      const l = CategoricalEstimator.fit(indices(good), p.values.length);
      const g = CategoricalEstimator.fit(indices(bad), p.values.length);
      return p.values[this.best(() => l.sample(rng), (c) => l.logPmf(c) - g.logPmf(c))]!;
    }
    const axis = numericAxis(p);
    const working = (rs: readonly TrialResult[]) => numericObservations(p, rs).map(axis.toWorking);
    const l = TruncatedGaussianMixture.fit(working(good), axis.low, axis.high);
    const g = TruncatedGaussianMixture.fit(working(bad), axis.low, axis.high);
    return this.best(
      () => axis.fromWorking(l.sample(rng)),
      (v) => l.logPdf(axis.toWorking(v)) - g.logPdf(axis.toWorking(v)),
    );
  }

  /** The candidate with the highest score (the first of equals, so the choice is reproducible). */
  private best<T>(draw: () => T, score: (c: T) => number): T {
    let bestC = draw();
    let bestS = score(bestC);
    for (let i = 1; i < this.candidates; i++) {
      const c = draw();
      const s = score(c);
      if (s > bestS) [bestC, bestS] = [c, s];
    }
    return bestC;
  }
}
