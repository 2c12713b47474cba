/**
 * Asynchronous successive halving (Li et al. 2020, "A System for Massively Parallel
 * Hyperparameter Tuning"), in the stopping form of Ray Tune's ASHAScheduler and Optuna's
 * SuccessiveHalvingPruner: trials are never paused, they are judged as they pass each rung and
 * either go on or stop for good.
 *
 * Rungs sit at steps r_k = min_steps·η^k for k = 0, 1, … while r_k < max_steps. max_steps
 * itself is no rung: a trial that gets there has finished, and stopping it then saves nothing
 * (Ray stops trials at max_t without judging them either).
 *
 * The rule, for a report (trial, step, value):
 *  - a trial already pruned stays pruned;
 *  - a value that is not finite (a diverged run) prunes the trial at once, recorded nowhere;
 *  - for each rung r_k ≤ step at which the trial has no value yet, lowest first: its value is
 *    recorded there, then with n values at that rung (its own included) the trial goes on only
 *    if it is among the best max(1, ⌊n/η⌋) of them. Ties favour the trial: it goes on when no
 *    more than max(1, ⌊n/η⌋) − 1 values are strictly better. So the first trial at a rung, alone,
 *    always goes on. A trial that jumps several rungs in one report is judged at each with the
 *    same value (as Optuna does), and stops at the first it fails;
 *  - otherwise it goes on.
 * Values of pruned trials stay at their rungs: later trials are judged against them too.
 */
import type { AshaConfig } from './space.js';
import { SearchStateError } from './errors.js';

export type AshaDecision = 'continue' | 'prune';

/** Everything an AshaPruner knows, as plain JSON, for checkpoints. */
export interface AshaSnapshot {
  /** Per rung, lowest first: its step and the values recorded there as [trial, value], in arrival order. */
  rungs: { step: number; values: [number, number][] }[];
  /** Trials pruned so far, in the order they were pruned. */
  pruned: number[];
}

/** The steps of the rungs: min_steps·η^k below max_steps. */
export function rungSteps(config: AshaConfig): number[] {
  const steps: number[] = [];
  for (let r = config.min_steps; r < config.max_steps; r *= config.reduction_factor) steps.push(r);
  return steps;
}

/**
 * The rule at one rung: with `value` recorded among `others` (the other values at that rung),
 * whether it is among the best max(1, ⌊n/η⌋) of the n values; ties favour it.
 */
export function amongBestAtRung(value: number, others: Iterable<number>, reductionFactor: number, mode: 'min' | 'max'): boolean {
  let n = 1;
  let better = 0;
  for (const v of others) {
    n++;
    if (mode === 'min' ? v < value : v > value) better++;
  }
  return better < Math.max(1, Math.floor(n / reductionFactor));
}

export class AshaPruner {
  readonly rungSteps: readonly number[];
  /** rungs[k]: trial → value recorded at rung k. */
  private readonly rungs: Map<number, number>[];
  private readonly pruned = new Set<number>();

  constructor(
    private readonly config: AshaConfig,
    /** Whether smaller (val_loss) or larger (val_accuracy) values are better. */
    private readonly mode: 'min' | 'max',
  ) {
    this.rungSteps = rungSteps(config);
    this.rungs = this.rungSteps.map(() => new Map());
  }

  /** Whether `trial` should go on after reporting `value` at `step` (see the rule above). */
  report(trial: number, step: number, value: number): AshaDecision {
    if (this.pruned.has(trial)) return 'prune';
    if (!Number.isFinite(value)) return this.prune(trial);
    for (let k = 0; k < this.rungSteps.length && this.rungSteps[k]! <= step; k++) {
      const rung = this.rungs[k]!;
      if (rung.has(trial)) continue;
      const others = [...rung.values()];
      rung.set(trial, value);
      if (!amongBestAtRung(value, others, this.config.reduction_factor, this.mode)) return this.prune(trial);
    }
    return 'continue';
  }

  snapshot(): AshaSnapshot {
    return {
      rungs: this.rungs.map((rung, k) => ({ step: this.rungSteps[k]!, values: [...rung.entries()] })),
      pruned: [...this.pruned],
    };
  }

  /**
   * A pruner in the state `snapshot` was taken in.
   * @throws SearchStateError when the snapshot's rungs are not this config's
   */
  static restore(config: AshaConfig, mode: 'min' | 'max', snapshot: AshaSnapshot): AshaPruner {
    const p = new AshaPruner(config, mode);
    const saved = snapshot.rungs.map((r) => r.step);
    if (saved.join(',') !== p.rungSteps.join(',')) {
      throw new SearchStateError(`the ASHA snapshot has rungs at steps [${saved.join(', ')}], but search.asha gives [${p.rungSteps.join(', ')}]`);
    }
    snapshot.rungs.forEach((r, k) => r.values.forEach(([trial, value]) => p.rungs[k]!.set(trial, value)));
    snapshot.pruned.forEach((t) => p.pruned.add(t));
    return p;
  }

  private prune(trial: number): AshaDecision {
    this.pruned.add(trial);
    return 'prune';
  }
}
