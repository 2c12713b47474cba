/**
 * A hyperparameter search as runs of one job over one worker pool, like bagging members: each
 * trial is a TrainingRun (its own directory trials/<k>/, metrics, early stopping, checkpoints)
 * with the trial's hyperparameters, started when a slot is free and judged by ASHA at each
 * validation; after the last trial, optionally the best configuration retrained on training +
 * validation data and scored on the test split once (best/).
 *
 * Reproducible whatever the finishing order, worker count or restarts: trial k's
 * hyperparameters and every ASHA judgement of trial k depend only on the results of trials
 * 0..k−P (P trials run at once), and trial k starts only once those are finished. A trial may so
 * wait for an earlier one while a slot is free; in exchange a search killed with -9 and started
 * again proposes and prunes exactly as it would have (search-state.json holds every trial; an
 * unfinished trial resumes from its own checkpoint, bit-identically).
 *
 *   trial k proposed (sampler over trials 0..k−P) ─► TrainingRun ─► validations ─► judge:
 *     each rung r ≤ step: value vs the values of finished trials 0..k−P at r (asha.ts's rule)
 *     ─► prune: the run ends now (best weights restored, summary, checkpoint)
 *   trial ends ─► result recorded ─► next trials start ─► … ─► retrain-best ─► summary
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { LoadedJob } from '../job/load.js';
import type { JobConfig } from '../job/schema.js';
import { TrainingRun } from '../run/training-run.js';
import { RunDirectory } from '../run/outputs.js';
import { runBasics, type RunContext } from '../run/build-runs.js';
import { readMetricsFile } from '../run/metrics-file.js';
import type { EvalSums } from '../run/run-records.js';
import type { PhaseSpec } from '../run/task.js';
import type { SearchConfig } from './space.js';
import { createSampler, type Sampler, type TrialResult } from './sampler.js';
import { amongBestAtRung, rungSteps } from './asha.js';
import { checkSearchPaths, trialJob } from './trial-config.js';
import { logSearchEvent, readSearchState, writeSearchState, type SearchStateFile, type TrialRecord } from './search-state.js';
import { rankTrials, searchSummary, type SearchSummary } from './ranking.js';

const EMPTY = new Uint32Array(0);
export const RETRAIN_RUN = 'retrain-best';
export const RETRAIN_DIR = 'best';

/** Receives a search event (trial started, rung judged, trial ended) as a record the dashboard shows. */
export type SearchEventListener = (record: Record<string, unknown>) => void;

export class HyperSearch {
  /** Every run this coordinator trains: the unfinished trials it resumed, the trials it started, the retraining. */
  readonly runs: TrainingRun[] = [];
  private readonly search: SearchConfig;
  private readonly state: SearchStateFile;
  private readonly sampler: Sampler;
  private readonly parallel: number;
  private readonly runDir: string;
  private launch: ((run: TrainingRun, phase: PhaseSpec | null) => void) | undefined;
  private summaryWritten = false;

  constructor(
    private readonly job: LoadedJob,
    private readonly ctx: RunContext,
    private readonly onEvent?: SearchEventListener,
  ) {
    this.search = job.config.search!;
    checkSearchPaths(this.search, job.source);
    this.runDir = ctx.out.dir;
    this.parallel = this.search.parallel;
    const fingerprint = createHash('sha256').update(JSON.stringify(this.search)).digest('hex').slice(0, 16);
    this.state = readSearchState(this.runDir, fingerprint) ?? { search: fingerprint, trials: [] };
    this.sampler = createSampler(this.search, job.config.seed);
    for (const t of this.state.trials) if (t.state === 'running') this.runs.push(this.trialRun(t));
    if (this.state.retrain?.state === 'running') this.runs.push(this.retrainRun(this.state.trials[this.state.retrain.trial]!));
    this.fill();
  }

  /** Names of runs whose checkpoints belong to finished trials: not trained again, not restored. */
  get finishedRunNames(): Set<string> {
    const names = this.state.trials.filter((t) => t.state !== 'running').map((t) => trialName(t.trial));
    if (this.state.retrain && this.state.retrain.state !== 'running') names.push(RETRAIN_RUN);
    return new Set(names);
  }

  get finished(): boolean {
    return this.summaryWritten;
  }

  /** From now on, new trials go to the dispatcher as they start (before this, `runs` carries them). */
  attach(launch: (run: TrainingRun, phase: PhaseSpec | null) => void): void {
    this.launch = launch;
  }

  /** Starts every trial the rules allow now; at the end, the retraining or the summary. */
  private fill(): void {
    const trials = this.state.trials;
    for (;;) {
      if (trials.filter((t) => t.state === 'running').length >= this.parallel) return;
      const k = trials.length;
      if (k >= this.search.trials) break;
      const seen = this.visibleTo(k);
      if (seen.some((t) => t.state === 'running')) return;
      const params = this.sampler.propose(k, seen.map(resultOf));
      if (!params) break;
      const record: TrialRecord = { trial: k, params, state: 'running', rungs: [], dir: `trials/${k}` };
      trials.push(record);
      this.save({ event: 'start', trial: k, params });
      this.start(this.trialRun(record));
    }
    if (trials.some((t) => t.state === 'running') || this.state.retrain?.state === 'running') return;
    const best = rankTrials(trials, this.search.objective)[0];
    if (this.search.retrain_best && !this.state.retrain && best && best.state !== 'failed' && best.value !== undefined) {
      this.state.retrain = { state: 'running', trial: best.trial, dir: RETRAIN_DIR };
      this.save({ event: 'retrain', trial: best.trial, params: best.params });
      this.start(this.retrainRun(best));
      return;
    }
    this.writeSummary();
  }

  /** Trials whose results trial k may use: 0..k−P. */
  private visibleTo(k: number): TrialRecord[] {
    return this.state.trials.slice(0, Math.max(0, k - this.parallel + 1));
  }

  private start(run: TrainingRun): void {
    this.runs.push(run);
    this.launch?.(run, run.firstPhase());
  }

  private trialRun(record: TrialRecord): TrainingRun {
    const config = trialJob(this.job.config, record.params, `${this.job.source}, search trial ${record.trial}`);
    return new TrainingRun({
      ...runBasics(this.job, this.ctx),
      job: config,
      id: record.trial,
      name: trialName(record.trial),
      trainIndices: this.job.trainIndices,
      // The test split is scored once, by the retraining: trials never see it.
      testIndices: EMPTY,
      seed: this.job.config.seed,
      out: new RunDirectory(join(this.runDir, record.dir), { onMetric: this.ctx.onMemberMetric }),
      log: this.ctx.log.child({ trial: record.trial }),
      judge: (step, sums) => this.judge(record, step, sums),
      onFinished: (run) => this.trialEnded(record, run),
      summaryExtras: () => ({ job: this.job.config.name, trial: record.trial, params: record.params }),
    });
  }

  /** The best trial's hyperparameters on training + validation data, for the epochs its best evaluation took. */
  private retrainRun(best: TrialRecord): TrainingRun {
    const config = trialJob(this.job.config, best.params, `${this.job.source}, retraining trial ${best.trial}`);
    const perEpoch = Math.ceil(this.job.trainIndices.length / config.batch.global);
    const epochs = Math.max(1, Math.ceil((best.best_step ?? best.steps ?? perEpoch) / perEpoch));
    const retrain: JobConfig = { ...config, epochs, max_steps: undefined, early_stopping: undefined };
    const trainIndices = new Uint32Array(this.job.trainIndices.length + this.job.validationIndices.length);
    trainIndices.set(this.job.trainIndices);
    trainIndices.set(this.job.validationIndices, this.job.trainIndices.length);
    return new TrainingRun({
      ...runBasics(this.job, this.ctx),
      job: retrain,
      id: this.search.trials,
      name: RETRAIN_RUN,
      trainIndices,
      validationIndices: EMPTY,
      seed: this.job.config.seed,
      out: new RunDirectory(join(this.runDir, RETRAIN_DIR), { onMetric: this.ctx.onMemberMetric }),
      log: this.ctx.log.child({ retrain: best.trial }),
      onFinished: (run) => {
        if (this.state.retrain?.state !== 'running') return;
        this.state.retrain.state = run.summary().status === 'failed' ? 'failed' : 'done';
        this.save({ event: 'retrained', trial: best.trial, state: this.state.retrain.state, test: run.summary().test });
        this.fill();
      },
      summaryExtras: () => ({ job: this.job.config.name, retrained_trial: best.trial, params: best.params, epochs }),
    });
  }

  /** ASHA at each rung the trial has now passed; a reason to stop it, or undefined. */
  private judge(record: TrialRecord, step: number, sums: EvalSums): string | undefined {
    const asha = this.search.asha;
    if (!asha) return undefined;
    const { metric, mode } = this.search.objective;
    const value = metric === 'val_loss' ? sums.loss : (sums.accuracy ?? NaN);
    const peers = this.visibleTo(record.trial).filter((t) => t.state === 'complete' || t.state === 'pruned');
    for (const rung of rungSteps(asha).filter((r) => r <= step)) {
      // Judged before a restart: the same decision (the evaluation is bit-identical).
      const earlier = record.rungs.find((r) => r.step === rung);
      if (earlier) {
        if (earlier.decision === 'prune') return pruneReason(earlier.step, metric, earlier.value);
        continue;
      }
      const values = peers.flatMap((t) => t.rungs.filter((r) => r.step === rung).map((r) => r.value));
      // A non-finite value (a diverged trial) is pruned at once, as asha.ts's pruner does.
      const decision = Number.isFinite(value) && amongBestAtRung(value, values, asha.reduction_factor, mode) ? 'continue' : 'prune';
      record.rungs.push({ step: rung, value, decision });
      this.save({ event: 'rung', trial: record.trial, step: rung, value, decision, peers: values.length });
      if (decision === 'prune') return pruneReason(rung, metric, value);
    }
    return undefined;
  }

  private trialEnded(record: TrialRecord, run: TrainingRun): void {
    if (record.state !== 'running') return;
    const s = run.summary();
    const best = bestValidation(join(this.runDir, record.dir, 'metrics.jsonl'), this.search.objective);
    record.state = s.status === 'failed' ? 'failed' : record.rungs.some((r) => r.decision === 'prune') ? 'pruned' : 'complete';
    Object.assign(record, { value: best?.value, best_step: best?.step, steps: s.steps, epochs: s.epochs_completed, reason: s.stop_reason, wall_time_s: s.wall_time_s });
    this.save({ event: 'end', trial: record.trial, state: record.state, value: record.value, best_step: record.best_step, steps: record.steps, reason: record.reason });
    this.fill();
  }

  private save(event: Record<string, unknown>): void {
    writeSearchState(this.runDir, this.state);
    logSearchEvent(this.runDir, event);
    this.onEvent?.({ type: 'trial', ...event, run: typeof event.trial === 'number' ? trialName(event.trial) : undefined, time: Date.now() });
  }

  private writeSummary(): void {
    const summary: SearchSummary = searchSummary(this.job.config.name, this.search, this.state, this.runDir);
    this.ctx.out.writeJson('search-summary.json', summary);
    this.ctx.out.writeJson('summary.json', summary);
    if (!this.summaryWritten) this.ctx.log.info({ best: summary.best, trials: summary.counts }, 'search finished');
    this.summaryWritten = true;
  }
}

export function trialName(trial: number): string {
  return `trial-${trial}`;
}

function resultOf(t: TrialRecord): TrialResult {
  return { trial: t.trial, params: t.params, state: t.state, ...(t.value !== undefined ? { value: t.value } : {}) };
}

function pruneReason(step: number, metric: string, value: number): string {
  return `pruned by ASHA at step ${step} (${metric} ${value.toFixed(4)} not among the best of the trials before it at that rung)`;
}

/** The trial's best validation metric and its step, from its metrics.jsonl (rewound on resume, so exactly the run's evaluations). */
function bestValidation(file: string, objective: SearchConfig['objective']): { value: number; step: number } | undefined {
  let best: { value: number; step: number } | undefined;
  for (const { record: r } of readMetricsFile(file).lines) {
    if (r.type !== 'eval' || r.split !== 'validation') continue;
    const v = objective.metric === 'val_loss' ? (r.loss as number) : (r.accuracy as number | null);
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    if (!best || (objective.mode === 'min' ? v < best.value : v > best.value)) best = { value: v, step: r.step as number };
  }
  return best;
}
