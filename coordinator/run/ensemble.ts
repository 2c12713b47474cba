/**
 * A bagging ensemble: K member TrainingRuns over one worker pool, and what happens once every
 * member is over.
 *
 *   member k finishes (done or failed) ─► all K over?
 *     ─► synchronously: the ensemble ONNX model of the members that finished well
 *        (<run>/model.onnx) and summary.json with every member's report, evaluation 'pending'
 *     ─► asynchronously: the ensemble scored on validation and test on the coordinator
 *        (ensemble-eval.ts) ─► summary.json again, with the ensemble's metrics
 *
 * The asynchronous part is handed to RunContext.defer so that the coordinator waits for it
 * before it exits; `settled` resolves with the final summary (tests await it).
 *
 * A restarted coordinator whose members are all over (restored from their final checkpoints, or
 * finished after the restart) does all of this again: the ensemble's records from an earlier
 * scoring are removed from the job's metrics.jsonl first, so they appear once.
 */
import type { Logger } from '../../shared/log.js';
import type { HeadSpec } from '../../shared/autodiff/compile-types.js';
import type { Dataset } from '../../shared/data/dataset.js';
import { exportEnsemble, type EnsembleModel } from '../../shared/autodiff/ensemble-export.js';
import { encodeModel, type ModelProto } from '../../shared/onnx/model.js';
import type { EnsembleConfig } from '../job/schema.js';
import type { TrainingRun } from './training-run.js';
import type { EvalSums } from './run-records.js';
import type { RunDirectory } from './outputs.js';
import type { MemberPlan } from './ensemble-plan.js';
import { evaluateEnsemble, type EnsembleEval } from './ensemble-eval.js';
import { rewindMetricsFile } from './metrics-file.js';

/** The `run` of the ensemble's own metric records in the job's metrics.jsonl. */
export const ENSEMBLE_RUN = 'ensemble';

export interface EnsembleSetup {
  /** The job's name. */
  job: string;
  config: EnsembleConfig;
  /** The ensemble's seed (config.seed, else the job's). */
  seed: number;
  plans: readonly MemberPlan[];
  /** A finished member's inference model (the job's forward model with the member's values). */
  memberModel: (run: TrainingRun) => ModelProto;
  heads: readonly HeadSpec[];
  dataset: Dataset;
  validationIndices: Uint32Array;
  testIndices: Uint32Array;
  /** Samples per onnxruntime call when scoring the ensemble. */
  evalBatch: number;
  /** The job's run directory (members write to members/<k>/ below it). */
  out: RunDirectory;
  log: Logger;
  now: () => number;
  summaryExtras?: () => Record<string, unknown>;
  /** Receives the scoring work once it starts, for the coordinator to await before it exits. */
  defer?: (what: string, work: Promise<unknown>) => void;
}

/** One member in the job's summary.json. */
export interface MemberReport {
  member: number;
  run: string;
  /** Relative to the job's run directory. */
  dir: string;
  seed: number;
  /** Seed its initial weights were drawn with (the job's seed unless `init: per_member`). */
  init_seed: number;
  status: 'done' | 'failed';
  stop_reason: string;
  steps: number;
  epochs_completed: number;
  best_step: number | null;
  monitor: string | null;
  best_metric: number | null;
  bootstrap: { samples: number; distinct: number; out_of_bag: number };
  out_of_bag: EvalSums | null;
  /** The last validation of the member's training. */
  validation: EvalSums | null;
  /** The member's final weights (restored best, if asked) on the test split. */
  test: EvalSums | null;
}

export interface EnsembleSummary {
  job: string;
  kind: 'ensemble';
  /** When the job started (ISO 8601): the members', kept across restarts. */
  started_at: string;
  /** 'pending' while the ensemble is being scored; 'failed' when a member failed or scoring did. */
  status: 'pending' | 'done' | 'failed';
  ensemble: {
    members: number;
    sample_fraction: number;
    seed: number;
    predict: EnsembleConfig['predict'];
    /** Members' initial weights: 'shared' (the job's) or 'per_member' (drawn with each member's init_seed). */
    init: EnsembleConfig['init'];
    /** 'model.onnx', or null when no member finished well. */
    model: string | null;
    members_in_model: number[];
    /** The cross-entropy head the ensemble is scored on (null: none, not scored). */
    scored_head: string | null;
    /** 'pending' until the ensemble is scored, then 'done', or why it was not. */
    evaluation: string;
    validation: EnsembleEval | null;
    test: EnsembleEval | null;
  };
  comparison: {
    test_accuracy: {
      ensemble: number | null;
      best_member: { member: number; accuracy: number } | null;
      mean_member: number | null;
    };
  };
  members: MemberReport[];
  /**
   * Since the job started, over coordinator lifetimes: the longest training time a member had
   * when the coordinator resumed (members train side by side), then this coordinator's time.
   */
  wall_time_s: number;
}

export class Ensemble {
  readonly members: TrainingRun[];
  /** The final summary, once the ensemble is scored (or could not be). */
  readonly settled: Promise<EnsembleSummary>;
  private resolveSettled!: (s: EnsembleSummary) => void;
  private rejectSettled!: (err: unknown) => void;
  private finalizing = false;
  private readonly started: number;

  /** `makeMember` builds member k's run; the run must call `onFinished` when it is over. */
  constructor(
    private readonly s: EnsembleSetup,
    makeMember: (plan: MemberPlan, onFinished: (run: TrainingRun) => void) => TrainingRun,
  ) {
    this.settled = new Promise((resolve, reject) => {
      this.resolveSettled = resolve;
      this.rejectSettled = reject;
    });
    // Whoever awaits `settled` sees a failure; when nobody does, a failure is not an unhandled rejection.
    this.settled.catch(() => {});
    this.started = s.now();
    this.members = s.plans.map((plan) => makeMember(plan, () => this.memberFinished()));
  }

  /** Called by every member when it is over (possibly more than once: after a restore). */
  private memberFinished(): void {
    if (this.finalizing || !this.members.every((m) => m.done)) return;
    this.finalizing = true;
    const work = this.finalize().catch((err: unknown) => {
      this.s.log.error({ err }, 'the ensemble could not be finished');
      throw err;
    });
    work.then(this.resolveSettled, this.rejectSettled);
    this.s.defer?.('ensemble evaluation', this.settled);
  }

  /** Runs synchronously up to the first await: the model and a first summary are on disk when it returns. */
  private async finalize(): Promise<EnsembleSummary> {
    const s = this.s;
    const earlier = rewindMetricsFile(s.out.metricsPath, (r) => r.run !== ENSEMBLE_RUN);
    if (earlier.dropped > 0) s.log.info({ dropped: earlier.dropped }, `${earlier.dropped} ensemble records of an earlier scoring removed from ${s.out.metricsPath}; the ensemble is scored again`);
    const reports = this.members.map((m, k) => this.report(m, k));
    const inModel = reports.filter((r) => r.status === 'done').map((r) => r.member);
    const head = s.heads.find((h) => h.loss === 'cross-entropy');
    const summary = this.summary(reports, inModel, head?.name ?? null);
    let exported: { model: EnsembleModel; bytes: Uint8Array } | undefined;
    try {
      if (inModel.length === 0) summary.ensemble.evaluation = 'no member finished well: no ensemble model';
      else {
        const model = exportEnsemble(
          inModel.map((k) => s.memberModel(this.members[k]!)),
          { predict: s.config.predict, heads: s.heads.map((h) => ({ name: h.name, logits: h.logits, loss: h.loss })) },
        );
        exported = { model, bytes: encodeModel(model.model) };
        s.out.writeBytes('model.onnx', exported.bytes);
        summary.ensemble.model = 'model.onnx';
        s.log.info({ members: inModel, predict: s.config.predict, bytes: exported.bytes.length }, 'ensemble model written');
      }
    } catch (err) {
      s.log.error({ err }, 'the ensemble model could not be exported');
      summary.ensemble.evaluation = `export failed: ${(err as Error).message}`;
    }
    this.write(summary);
    if (!exported || !head || s.dataset.numClasses === undefined) {
      if (exported) summary.ensemble.evaluation = 'not scored: the ensemble is scored on a cross-entropy head over class labels, and this job has none';
      return this.done(summary);
    }
    try {
      const outputs = exported.model.outputs.filter((o) => o.head === head.name);
      const scored = { class: outputs.find((o) => o.kind === 'class')!.name, probabilities: outputs.find((o) => o.kind === 'probabilities')?.name };
      for (const split of ['validation', 'test'] as const) {
        const indices = split === 'test' ? s.testIndices : s.validationIndices;
        if (indices.length === 0) continue;
        const result = await evaluateEnsemble(exported.bytes, s.dataset, indices, scored, s.evalBatch);
        summary.ensemble[split] = result;
        s.out.metric({ type: 'eval', run: ENSEMBLE_RUN, split, loss: result.nll, accuracy: result.accuracy, count: result.count, time: Date.now() });
        s.log.info({ split, accuracy: result.accuracy, nll: result.nll, count: result.count }, 'ensemble evaluation');
      }
      summary.ensemble.evaluation = 'done';
      summary.comparison.test_accuracy.ensemble = summary.ensemble.test?.accuracy ?? null;
    } catch (err) {
      s.log.error({ err }, 'the ensemble could not be scored');
      summary.ensemble.evaluation = `failed: ${(err as Error).message}`;
    }
    return this.done(summary);
  }

  private done(summary: EnsembleSummary): EnsembleSummary {
    summary.status = summary.members.every((m) => m.status === 'done') && (summary.ensemble.evaluation === 'done' || summary.ensemble.evaluation.startsWith('not scored')) ? 'done' : 'failed';
    summary.wall_time_s = this.elapsedMs() / 1000;
    this.write(summary);
    return summary;
  }

  /** Training time of the job: members resumed with time already spent bring it along. */
  private elapsedMs(): number {
    return Math.max(0, ...this.members.map((m) => m.elapsedBeforeResumeMs)) + (this.s.now() - this.started);
  }

  private write(summary: EnsembleSummary): void {
    this.s.out.writeJson('summary.json', { ...summary, ...(this.s.summaryExtras?.() ?? {}) });
  }

  private report(run: TrainingRun, k: number): MemberReport {
    const plan = this.s.plans[k]!;
    const r = run.summary();
    return {
      member: k,
      run: r.run,
      dir: memberDir(k),
      seed: plan.seed,
      init_seed: plan.initSeed,
      status: r.status,
      stop_reason: r.stop_reason,
      steps: r.steps,
      epochs_completed: r.epochs_completed,
      best_step: r.best_step,
      monitor: r.monitor,
      best_metric: r.best_metric,
      bootstrap: { samples: plan.trainIndices.length, distinct: plan.distinct, out_of_bag: plan.outOfBagIndices.length },
      out_of_bag: r.out_of_bag ?? null,
      validation: r.final_validation,
      test: r.test,
    };
  }

  private summary(members: MemberReport[], inModel: number[], scoredHead: string | null): EnsembleSummary {
    const c = this.s.config;
    const tested = members.filter((m) => m.status === 'done' && m.test?.accuracy != null).map((m) => ({ member: m.member, accuracy: m.test!.accuracy! }));
    const best = tested.reduce<{ member: number; accuracy: number } | null>((a, t) => (a === null || t.accuracy > a.accuracy ? t : a), null);
    return {
      job: this.s.job,
      kind: 'ensemble',
      started_at: this.members.map((m) => m.startedAtIso).reduce((a, b) => (b < a ? b : a)),
      status: 'pending',
      ensemble: { members: c.members, sample_fraction: c.sample_fraction, seed: this.s.seed, predict: c.predict, init: c.init, model: null, members_in_model: inModel, scored_head: scoredHead, evaluation: 'pending', validation: null, test: null },
      comparison: { test_accuracy: { ensemble: null, best_member: best, mean_member: tested.length > 0 ? tested.reduce((a, t) => a + t.accuracy, 0) / tested.length : null } },
      members,
      wall_time_s: this.elapsedMs() / 1000,
    };
  }
}

/** Member k's folder, relative to the job's run directory. */
export function memberDir(k: number): string {
  return `members/${k}`;
}
