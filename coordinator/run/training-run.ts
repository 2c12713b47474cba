/**
 * One model's training: parameters, optimizer state, step counter, epoch plan, evaluation and
 * early stopping. It turns phase results into the next phase (a PhaseOwner for the Scheduler)
 * and owns every decision that makes results reproducible: the epoch permutation, micro-batch
 * boundaries, the summation order (the reduction tree over micro-batch indices, whoever computed
 * which part), clipping and the optimizer.
 * Several TrainingRuns can share one Scheduler (bagging members, search trials).
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Logger } from '../../shared/log.js';
import type { ParamInfo, BufferInfo } from '../../shared/autodiff/compile-types.js';
import type { JobConfig } from '../job/schema.js';
import { sampleCount, type PhaseSpec, type TaskResult, type TaskSpec, type EvalSplit } from './task.js';
import { createOptimizer, lrSchedule, type Optimizer, type OptimizerState, type LrScheduleConfig } from '../optim/index.js';
import { deriveSeed, planEpoch, SeedStream, type EpochPlan } from '../plan/index.js';
import { evaluationAttacks } from '../job/adversarial.js';
import { reduceGradient, meanDivisor, headMeans, averageBuffers } from '../aggregate/index.js';
import type { Arena, FlatVector } from '../../shared/kernels/index.js';
import { TreeSum } from '../../shared/reduction/index.js';
import type { LeafStats } from '../../shared/engine/leaf.js';
import { maskSeed } from '../../shared/engine/dropout-masks.js';
import { decideEarlyStop, initialEarlyStopping, type EarlyStoppingState } from './early-stopping.js';
import type { RunDirectory, StepMetrics } from './outputs.js';
import { saveCheckpoint } from '../checkpoint/file.js';
import { rewindMetricsFile } from './metrics-file.js';
import { writtenBeforeCheckpoint, writtenBeforeStart } from './metrics-rewind.js';
import type { EvalSums, RunCheckpointMeta, RunSummary } from './run-records.js';

export interface RunSetup {
  id: number;
  name: string;
  job: JobConfig;
  /**
   * Where the run's parameters, optimizer state and the step's gradient pieces live (one arena
   * for all runs of a coordinator: the dispatcher decodes results into it).
   */
  arena: Arena;
  params: readonly ParamInfo[];
  buffers: readonly BufferInfo[];
  /** Dataset indices this run trains on (a bootstrap sample for bagging members). */
  trainIndices: Uint32Array;
  validationIndices: Uint32Array;
  testIndices: Uint32Array;
  /**
   * Bagging members: the training samples their bootstrap never drew. Scored once at the end of
   * training (with the final, possibly restored-best weights), before the test split.
   */
  outOfBagIndices?: Uint32Array;
  /** Seed of this run's permutations and dropout masks. */
  seed: number;
  out: RunDirectory;
  log: Logger;
  now: () => number;
  /** When the job started (ISO 8601) for summary.json; default: when this run was built. A resumed run keeps its checkpoint's. */
  startedAt?: string;
  /** Bytes of the inference model (model.onnx) for trained params/buffers, by name. */
  exportModel?: (params: Map<string, Float32Array>, buffers: Map<string, Float32Array>) => Uint8Array;
  /** Extra fields for summary.json (worker count...). */
  summaryExtras?: () => Record<string, unknown>;
  /**
   * Called once the run is over (done or failed) and its summary is written, and again by
   * resumePhase() for a run restored as over: whoever waits on several runs (an ensemble) must
   * treat repeated calls as one.
   */
  onFinished?: (run: TrainingRun) => void;
  /**
   * Asked after each validation (once early stopping had its say): a reason to stop the run now
   * (a search pruning a poor trial), or undefined to go on. The run then ends as early stopping
   * ends it: best weights restored if asked, final evaluations, summary, final checkpoint.
   */
  judge?: (step: number, validation: EvalSums) => string | undefined;
}

type Stage = 'train' | 'final' | 'done' | 'failed';
type NextPhase = 'train' | 'validation' | 'test' | 'finish';

const EMPTY = new Uint32Array(0);
const DEFAULT_NO_DECAY = (p: ParamInfo) => p.kind !== 'weight';

export class TrainingRun {
  readonly id: number;
  readonly name: string;
  /** The parameters, in the arena (the optimizer updates them in place). */
  private readonly weights: FlatVector;
  buffers: Float32Array[];
  /** Incremented whenever params or buffers change; tasks name the version they need. */
  version = 0;
  globalStep = 0;
  epoch = 0;
  stepInEpoch = 0;
  stage: Stage = 'train';
  stopReason = '';
  /** What follows the last completed train step (recorded in checkpoints). */
  private next: NextPhase = 'train';

  private plan: EpochPlan;
  private readonly optimizer: Optimizer;
  private readonly lr: (step: number) => number;
  private es: EarlyStoppingState = initialEarlyStopping();
  private best: { params: Float32Array[]; buffers: Float32Array[]; step: number } | undefined;
  private consecutiveSkips = 0;
  private skipped = 0;
  private lastValidation: EvalSums | null = null;
  /** Validation metrics of the best evaluation so far (what restore_best brings back). */
  private bestValidation: EvalSums | null = null;
  /** Whether the final weights are the restored best ones. */
  private restoredBest = false;
  private test: EvalSums | null = null;
  private outOfBag: EvalSums | null = null;
  private startedAt: string;
  /** When this coordinator's share of the training time began (construction, or restore). */
  private clockStart: number;
  /** Training time before this coordinator: the elapsed time stored in the checkpoint it resumed from. */
  private priorMs = 0;
  /** Total training time, fixed once the run is over. */
  private endedMs: number | null = null;
  private resumes = 0;
  private phaseStarted: number;
  private epochCounts: Uint32Array;
  private readonly epochLog: RunSummary['epoch_sample_counts'] = [];
  private readonly totalSteps: number;
  /** Positions (into trainIndices) of the current train phase's micro-batches, for the epoch counts. */
  private phasePositions: Uint32Array[] = [];
  /** The current train phase's gradient, added up over the reduction tree as results arrive. */
  private stepSum: { phase: string; sum: TreeSum } | undefined;
  /** Tensor sizes of a gradient piece: the params' gradients, then the buffers' weighted states. */
  readonly pieceSizes: readonly number[];

  constructor(private readonly s: RunSetup) {
    this.id = s.id;
    this.name = s.name;
    const job = s.job;
    this.weights = s.arena.vector(s.params.map((p) => p.init.length));
    this.weights.setParts(s.params.map((p) => p.init));
    this.buffers = s.buffers.map((b) => Float32Array.from(b.init));
    this.pieceSizes = [...s.params.map((p) => p.init.length), ...s.buffers.map((b) => b.init.length)];
    const noDecay = job.optimizer.no_decay ? new RegExp(job.optimizer.no_decay) : undefined;
    this.optimizer = createOptimizer(
      {
        kind: job.optimizer.kind,
        momentum: job.optimizer.momentum,
        beta1: job.optimizer.beta1,
        beta2: job.optimizer.beta2,
        eps: job.optimizer.eps,
        weightDecay: job.optimizer.weight_decay,
        l1: job.optimizer.l1,
      },
      s.params.map((p) => ({
        name: p.name,
        size: p.init.length,
        decay: noDecay ? !noDecay.test(p.name) : job.optimizer.decay_biases ? p.kind !== 'norm' : !DEFAULT_NO_DECAY(p),
      })),
      s.arena,
    );
    const stepsPerEpoch = Math.ceil(s.trainIndices.length / job.batch.global);
    this.totalSteps = job.max_steps ?? stepsPerEpoch * job.epochs;
    this.lr = lrSchedule(scheduleConfig(job, this.totalSteps));
    this.plan = this.planFor(0);
    this.epochCounts = new Uint32Array(s.trainIndices.length);
    this.startedAt = s.startedAt ?? new Date().toISOString();
    this.clockStart = s.now();
    this.phaseStarted = this.clockStart;
  }

  get done(): boolean {
    return this.stage === 'done' || this.stage === 'failed';
  }

  /** Where this run's checkpoints go (bagging members each have their own run directory). */
  get checkpointDir(): string {
    return this.s.out.path('checkpoints');
  }

  /** The parameters (views into the arena: they change with every step). */
  get params(): Float32Array[] {
    return this.weights.parts;
  }

  currentParams(): { version: number; params: Float32Array[]; buffers: Float32Array[] } {
    return { version: this.version, params: this.weights.parts, buffers: this.buffers };
  }

  firstPhase(): PhaseSpec | null {
    // A coordinator that died before this run's first checkpoint left records that the run,
    // starting from the beginning again, writes anew.
    const rewound = rewindMetricsFile(this.s.out.metricsPath, writtenBeforeStart(this.name));
    if (rewound.dropped + rewound.unreadable > 0)
      this.s.log.warn({ run: this.name, dropped: rewound.dropped, unreadable: rewound.unreadable }, `run '${this.name}' starts from the beginning: ${rewound.dropped} metric records of an earlier start removed from ${this.s.out.metricsPath}`);
    return this.trainPhase();
  }

  /** When the run started (ISO 8601), kept across restarts. */
  get startedAtIso(): string {
    return this.startedAt;
  }

  /** Training time before this coordinator (0 for a run that was not resumed). */
  get elapsedBeforeResumeMs(): number {
    return this.priorMs;
  }

  /** Training time so far, over every coordinator lifetime (fixed once the run is over). */
  elapsedMs(): number {
    return this.endedMs ?? this.priorMs + (this.s.now() - this.clockStart);
  }

  /** Whether periodic evaluations also score the test split (eval.test: every). */
  private get testEvery(): boolean {
    return this.s.job.eval.test === 'every' && this.s.testIndices.length > 0;
  }

  private planFor(epoch: number): EpochPlan {
    const job = this.s.job;
    return planEpoch(this.s.trainIndices.length, job.batch.global, job.batch.micro, this.s.seed, epoch);
  }

  private trainPhase(): PhaseSpec {
    const step = this.plan.steps[this.stepInEpoch]!;
    this.phaseStarted = this.s.now();
    this.phasePositions = step.microbatches.map((mb) => this.plan.order.subarray(mb.start, mb.end));
    const name = `train:${this.globalStep}`;
    this.stepSum?.sum.dispose();
    this.stepSum = { phase: name, sum: new TreeSum(step.microbatches.length, this.s.arena, this.pieceSizes) };
    return {
      runId: this.id,
      name,
      kind: 'train',
      step: this.version,
      leaves: this.phasePositions.map((positions, index) => ({ indices: positions.map((pos) => this.s.trainIndices[pos]!), maskSeed: maskSeed(this.s.seed, this.globalStep, index) })),
      ...(this.s.job.model.dropout !== undefined ? { dropout: this.s.job.model.dropout } : {}),
      // Each epoch augments its samples afresh; a sample's transforms depend on this and its index only.
      ...(this.s.job.augment ? { augmentSeed: deriveSeed(this.s.seed, SeedStream.augment, this.epoch) } : {}),
    };
  }

  private evalPhase(split: EvalSplit): PhaseSpec {
    const indices = split === 'test' ? this.s.testIndices : split === 'oob' ? this.outOfBagIndices() : this.s.validationIndices;
    const shard = this.s.job.eval.batch;
    const leaves: PhaseSpec['leaves'] = [];
    for (let start = 0; start < indices.length; start += shard) leaves.push({ indices: indices.subarray(start, Math.min(indices.length, start + shard)), maskSeed: 0 });
    this.phaseStarted = this.s.now();
    return { runId: this.id, name: `eval:${split}:${this.globalStep}:${this.version}`, kind: 'eval', step: this.version, leaves, split };
  }

  /**
   * A task's result was accepted: its gradient piece goes into the step's sum at once (the
   * vector is the run's from now on, and released once added).
   */
  taskDone(phase: string, task: TaskSpec, result: TaskResult): void {
    if (!result.vector) return;
    const vector = result.vector;
    result.vector = undefined;
    if (this.stepSum?.phase !== phase) {
      this.s.arena.release(vector);
      throw new Error(`run ${this.name}: a gradient for phase ${phase} arrived during ${this.stepSum?.phase ?? 'no train phase'}`);
    }
    this.stepSum.sum.add(task.node, vector);
  }

  completePhase(phase: string, results: TaskResult[]): PhaseSpec | null {
    const leaves = results.flatMap((r) => r.leaves);
    if (phase.startsWith('train:')) return this.afterTrainStep(phase, leaves);
    const split = phase.split(':')[1] as EvalSplit;
    return this.afterEval(split, sumEval(leaves, this.s.job.adversarial ? evaluationAttacks(this.s.job.adversarial).map((a) => a.method) : []));
  }

  private afterTrainStep(phase: string, leaves: LeafStats[]): PhaseSpec | null {
    const job = this.s.job;
    const count = leaves.reduce((a, r) => a + r.count, 0);
    const planned = sampleCount(this.phasePositions.map((indices) => ({ indices })));
    if (count !== planned) throw new Error(`step ${this.globalStep + 1}: workers reported ${count} samples, the plan holds ${planned}`);
    if (this.stepSum?.phase !== phase || !this.stepSum.sum.complete) throw new Error(`step ${this.globalStep + 1}: the phase ended before its gradient was complete`);
    const sum = this.stepSum.sum.take();
    this.stepSum = undefined;
    try {
      for (const positions of this.phasePositions) for (const pos of positions) this.epochCounts[pos]!++;
      // PyTorch's mean over the whole step: sums divided by the summed loss normalizer (the sample
      // count for cross-entropy; elements for mse/bce; Σ class weights), see aggregate/divisor.ts.
      const divisor = meanDivisor(leaves.map((l) => ({ count: l.count, normalizers: l.headNormalizers })));
      const culprits = leaves.flatMap((l, microbatch) => (l.nonFinite ? [{ microbatch, ...l.nonFinite }] : []));
      const reduced = culprits.length > 0 ? ({ ok: false, nonFinite: culprits } as const) : reduceGradient(sum, this.s.params.length, divisor, { maxNorm: job.clip.max_norm, value: job.clip.value });
      const lossMean = leaves.reduce((a, r) => a + r.loss, 0) / divisor;
      const lr = this.lr(this.globalStep);
      const elapsed = Math.max(1e-6, (this.s.now() - this.phaseStarted) / 1000);
      const base = { type: 'step' as const, run: this.name, step: this.globalStep + 1, epoch: this.epoch, loss: lossMean, lr, samples: count, samples_per_s: count / elapsed, time: Date.now() };
      if (!reduced.ok) {
        this.consecutiveSkips++;
        this.skipped++;
        const where = reduced.nonFinite.map((b) => ({ microbatch: b.microbatch ?? null, param: this.s.params[b.param]?.name, element: b.element, value: String(b.value) }));
        this.s.log.warn({ run: this.name, step: this.globalStep + 1, nonFinite: where }, 'non-finite aggregated gradient: step skipped, parameters untouched');
        this.s.out.metric({ ...base, grad_norm: null, grad_norm_clipped: null, skipped: true, non_finite: where });
        if (this.consecutiveSkips >= job.max_consecutive_skips) {
          this.globalStep++;
          this.stage = 'failed';
          this.endedMs = this.elapsedMs();
          this.stopReason = `${this.consecutiveSkips} consecutive steps had non-finite gradients (last: ${JSON.stringify(where[0])}); stopping`;
          this.s.log.error({ run: this.name }, this.stopReason);
          this.writeSummary();
          // A final checkpoint records the run as over: started again, the coordinator reports the
          // failure instead of repeating the steps since the last periodic checkpoint.
          this.saveCheckpoint();
          this.s.onFinished?.(this);
          return null;
        }
      } else {
        this.consecutiveSkips = 0;
        this.optimizer.update(this.weights, sum, lr, reduced.gradScale);
        averageBuffers(this.buffers, sum.parts.slice(this.s.params.length), count);
        this.version++;
        const line: StepMetrics = { ...base, grad_norm: reduced.preClipNorm, grad_norm_clipped: reduced.postClipNorm };
        this.s.out.metric(line);
      }
    } finally {
      this.s.arena.release(sum);
    }
    this.globalStep++;
    this.stepInEpoch++;
    const epochEnded = this.stepInEpoch >= this.plan.steps.length;
    if (epochEnded) this.closeEpoch();
    const outOfSteps = this.globalStep >= this.totalSteps;
    const every = job.eval.every;
    const hasValidation = this.s.validationIndices.length > 0;
    const evalDue = (hasValidation || this.testEvery) && (every === 'epoch' ? epochEnded : this.globalStep % every === 0 || outOfSteps);
    // Without a validation split a periodic test score is due alone, except at the end: the final test covers it.
    this.next = evalDue && hasValidation ? 'validation' : evalDue && !outOfSteps ? 'test' : outOfSteps ? 'finish' : 'train';
    if (this.globalStep % job.checkpoint.every_steps === 0) this.saveCheckpoint();
    return this.continueWith(this.next);
  }

  private continueWith(next: NextPhase): PhaseSpec | null {
    if (next === 'validation') return this.evalPhase('validation');
    if (next === 'test') return this.evalPhase('test');
    if (next === 'finish') return this.finish(`completed ${this.globalStep} steps (${this.epoch} epochs)`);
    return this.trainPhase();
  }

  /** The phase to run after restore(): the one that was next when the checkpoint was written. */
  resumePhase(): PhaseSpec | null {
    if (this.done) {
      this.s.onFinished?.(this);
      return null;
    }
    if (this.stage === 'final') return this.finalEvaluation();
    return this.continueWith(this.next);
  }

  private closeEpoch(): void {
    let samples = 0;
    let distinct = 0;
    for (const c of this.epochCounts) {
      samples += c;
      if (c > 0) distinct++;
    }
    this.epochLog.push({ epoch: this.epoch, samples, distinct, expected: this.s.trainIndices.length });
    this.epochCounts.fill(0);
    this.epoch++;
    this.stepInEpoch = 0;
    this.plan = this.planFor(this.epoch);
  }

  private afterEval(split: EvalSplit, sums: EvalSums): PhaseSpec | null {
    const job = this.s.job;
    // The epoch the evaluated weights were trained in (steps count epochs from 0 too).
    const epoch = this.stepInEpoch === 0 && this.globalStep > 0 ? this.epoch - 1 : this.epoch;
    this.s.out.metric({ type: 'eval', run: this.name, step: this.globalStep, epoch, split, loss: sums.loss, accuracy: sums.accuracy, count: sums.count, head_losses: sums.headLosses, ...(sums.attacks ? { attacks: sums.attacks } : {}), time: Date.now() });
    if (split === 'test' && this.stage === 'train') {
      // A periodic test score (eval.test: every): reported, never a decision.
      this.s.log.info({ run: this.name, step: this.globalStep, epoch: this.epoch, test_loss: sums.loss, test_accuracy: sums.accuracy }, 'periodic test evaluation');
      this.next = 'train';
      return this.trainPhase();
    }
    if (split === 'test') {
      this.test = sums;
      return this.complete();
    }
    if (split === 'oob') {
      this.outOfBag = sums;
      this.s.log.info({ run: this.name, step: this.globalStep, oob_loss: sums.loss, oob_accuracy: sums.accuracy, oob_count: sums.count }, 'out-of-bag evaluation');
      return this.finalEvaluation();
    }
    this.lastValidation = sums;
    this.s.log.info({ run: this.name, step: this.globalStep, epoch: this.epoch, val_loss: sums.loss, val_accuracy: sums.accuracy }, 'validation');
    const es = job.early_stopping;
    if (es) {
      const value = es.monitor === 'val_loss' ? sums.loss : (sums.accuracy ?? NaN);
      const d = decideEarlyStop(es, this.es, value, this.globalStep);
      this.es = d.state;
      if (d.improved) this.bestValidation = sums;
      if (d.improved && es.restore_best) this.best = { params: this.weights.parts.map((p) => Float32Array.from(p)), buffers: this.buffers.map((b) => Float32Array.from(b)), step: this.globalStep };
      if (d.stop) return this.finish(d.reason!);
    }
    const stop = this.s.judge?.(this.globalStep, sums);
    if (stop !== undefined) return this.finish(stop);
    if (this.globalStep >= this.totalSteps) return this.finish(`completed ${this.globalStep} steps (${this.epoch} epochs)`);
    if (this.testEvery) {
      // A checkpoint written before the test score is in must resume with it, not repeat validation.
      this.next = 'test';
      return this.evalPhase('test');
    }
    // A checkpoint written during the next step must resume training, not repeat this evaluation.
    this.next = 'train';
    return this.trainPhase();
  }

  /** Ends training: restores the best weights if asked, then evaluates the test split. */
  private finish(reason: string): PhaseSpec | null {
    this.stopReason = reason;
    this.s.log.info({ run: this.name, step: this.globalStep }, reason);
    const es = this.s.job.early_stopping;
    if (es?.restore_best && this.best && this.best.step !== this.globalStep) {
      this.weights.setParts(this.best.params);
      this.buffers = this.best.buffers;
      this.version++;
      this.restoredBest = true;
      this.s.log.info({ run: this.name, best_step: this.best.step }, 'restored the best weights');
    }
    this.stage = 'final';
    return this.finalEvaluation();
  }

  /** Training is over: the out-of-bag split (bagging members) is scored first, then the test split. */
  private finalEvaluation(): PhaseSpec | null {
    if (this.outOfBag === null && this.outOfBagIndices().length > 0) return this.evalPhase('oob');
    if (this.s.testIndices.length > 0) return this.evalPhase('test');
    return this.complete();
  }

  private outOfBagIndices(): Uint32Array {
    return this.s.outOfBagIndices ?? EMPTY;
  }

  /**
   * The run is over: the inference model, the summary and a final checkpoint go to disk, the
   * checkpoint last: a coordinator killed before it resumes the run from an earlier checkpoint
   * and writes the others again, while one that finds the final checkpoint finds them written.
   */
  private complete(): PhaseSpec | null {
    this.stage = 'done';
    this.endedMs = this.elapsedMs();
    if (this.s.exportModel) {
      const byName = (infos: readonly { name: string }[], values: Float32Array[]) => new Map(infos.map((p, i) => [p.name, values[i]!]));
      this.s.out.writeBytes('model.onnx', this.s.exportModel(byName(this.s.params, this.params), byName(this.s.buffers, this.buffers)));
    }
    this.writeSummary();
    this.saveCheckpoint();
    this.s.onFinished?.(this);
    return null;
  }

  summary(): RunSummary {
    const es = this.s.job.early_stopping;
    return {
      run: this.name,
      started_at: this.startedAt,
      status: this.stage === 'failed' ? 'failed' : 'done',
      stop_reason: this.stopReason,
      steps: this.globalStep,
      epochs_completed: this.epoch,
      best_step: es ? this.es.bestStep : null,
      best_metric: es ? this.es.best : null,
      monitor: es ? es.monitor : null,
      final_validation: this.restoredBest ? this.bestValidation : this.lastValidation,
      last_validation: this.lastValidation,
      test: this.test,
      ...(this.s.outOfBagIndices ? { out_of_bag: this.outOfBag } : {}),
      skipped_steps: this.skipped,
      epoch_sample_counts: this.epochLog,
      wall_time_s: this.elapsedMs() / 1000,
      resumes: this.resumes,
    };
  }

  private writeSummary(): void {
    this.s.out.writeJson('summary.json', { ...this.summary(), ...(this.s.summaryExtras?.() ?? {}) });
  }

  /** Everything needed to continue this run bit-identically. */
  checkpointContents(): { meta: RunCheckpointMeta; tensors: Float32Array[] } {
    const opt = this.optimizer.saveState();
    const slotNames = Object.keys(opt.slots).sort();
    // Sample counts of the epoch in progress travel too (small integers: exact in float32).
    const tensors = [...this.params, ...this.buffers, ...slotNames.flatMap((k) => opt.slots[k]!), Float32Array.from(this.epochCounts), ...(this.best ? [...this.best.params, ...this.best.buffers] : [])];
    return {
      meta: {
        run: this.name,
        globalStep: this.globalStep,
        epoch: this.epoch,
        stepInEpoch: this.stepInEpoch,
        version: this.version,
        stage: this.stage,
        next: this.next,
        stopReason: this.stopReason,
        earlyStopping: this.es,
        bestStep: this.best?.step ?? null,
        consecutiveSkips: this.consecutiveSkips,
        skipped: this.skipped,
        lastValidation: this.lastValidation,
        bestValidation: this.bestValidation,
        restoredBest: this.restoredBest,
        ...(this.s.outOfBagIndices ? { outOfBag: this.outOfBag } : {}),
        test: this.test,
        elapsedMs: this.elapsedMs(),
        startedAt: this.startedAt,
        epochLog: this.epochLog,
        optimizer: { kind: opt.kind, step: opt.step, slots: slotNames.map((name) => ({ name, count: opt.slots[name]!.length })) },
        counts: { params: this.params.length, buffers: this.buffers.length },
      },
      tensors,
    };
  }

  /**
   * Continues from a checkpoint written by checkpointContents() of the same job, read from the
   * file `from` (for the resume record). The run's metrics.jsonl is rewound to what the run had
   * written when the checkpoint was taken (metrics-rewind.ts), and, unless the run was over, a
   * `resume` record is appended.
   */
  restore(c: { meta: RunCheckpointMeta; tensors: Float32Array[] }, from?: string): void {
    const m = c.meta;
    if (m.counts.params !== this.params.length || m.counts.buffers !== this.buffers.length) throw new Error(`checkpoint of run '${m.run}' does not fit this job's model (${m.counts.params} params, ${m.counts.buffers} buffers)`);
    let k = 0;
    const take = (n: number) => c.tensors.slice(k, (k += n));
    this.weights.setParts(take(this.params.length));
    this.buffers = take(this.buffers.length);
    const slots: Record<string, Float32Array[]> = {};
    for (const s of m.optimizer.slots) slots[s.name] = take(s.count);
    this.optimizer.loadState({ kind: m.optimizer.kind as OptimizerState['kind'], step: m.optimizer.step, slots });
    this.epochCounts = Uint32Array.from(take(1)[0]!);
    this.best = m.bestStep === null ? undefined : { params: take(this.params.length), buffers: take(this.buffers.length), step: m.bestStep };
    this.globalStep = m.globalStep;
    this.epoch = m.epoch;
    this.stepInEpoch = m.stepInEpoch;
    this.version = m.version;
    this.stage = m.stage;
    this.next = m.next;
    this.stopReason = m.stopReason;
    this.es = m.earlyStopping;
    this.consecutiveSkips = m.consecutiveSkips;
    this.skipped = m.skipped;
    this.lastValidation = m.lastValidation;
    this.bestValidation = m.bestValidation ?? null;
    this.restoredBest = m.restoredBest ?? false;
    this.outOfBag = m.outOfBag ?? null;
    this.test = m.test ?? null;
    this.epochLog.splice(0, this.epochLog.length, ...m.epochLog);
    this.plan = this.planFor(this.epoch);
    if (m.startedAt !== undefined) this.startedAt = m.startedAt;
    this.priorMs = m.elapsedMs ?? 0;
    this.clockStart = this.s.now();
    this.endedMs = null;
    if (this.done) {
      // Checkpoints written before the test metrics and the elapsed time were kept in them: the
      // run's own summary.json, written when it was done, still holds both.
      if (m.test === undefined || m.elapsedMs === undefined) this.takeFromSummary(m.test === undefined, m.elapsedMs === undefined);
      this.endedMs = this.priorMs;
    }
    this.rewindMetrics(m, from);
  }

  /** The run's metrics.jsonl back to the checkpoint's step, and a resume record for a run that goes on. */
  private rewindMetrics(m: RunCheckpointMeta, from: string | undefined): void {
    const rewound = rewindMetricsFile(this.s.out.metricsPath, writtenBeforeCheckpoint(m));
    if (rewound.dropped + rewound.unreadable > 0)
      this.s.log.info(
        { run: this.name, step: m.globalStep, dropped: rewound.dropped, unreadable: rewound.unreadable },
        `metrics of run '${this.name}' rewound to its checkpoint (step ${m.globalStep}): ${rewound.dropped} later records and ${rewound.unreadable} torn lines removed`,
      );
    this.resumes = rewound.kept.filter((r) => r.type === 'resume' && r.run === this.name).length;
    if (this.done) return;
    this.resumes++;
    this.s.out.metric({ type: 'resume', run: this.name, step: m.globalStep, epoch: this.epoch, from: from === undefined ? null : relative(this.s.out.dir, from), time: Date.now() });
  }

  /** Test metrics and wall time of a done run from its summary.json, for checkpoints that lack them. */
  private takeFromSummary(test: boolean, wallTime: boolean): void {
    let previous: Partial<RunSummary>;
    try {
      previous = JSON.parse(readFileSync(this.s.out.path('summary.json'), 'utf8')) as Partial<RunSummary>;
    } catch (e) {
      this.s.log.warn({ run: this.name, reason: (e as Error).message }, `run '${this.name}' was done, but its checkpoint predates test metrics and wall time, and its summary.json cannot be read: they are reported as missing`);
      return;
    }
    if (previous.run !== this.name) return;
    if (test) this.test = previous.test ?? null;
    if (wallTime && typeof previous.wall_time_s === 'number') this.priorMs = previous.wall_time_s * 1000;
    if (typeof previous.started_at === 'string') this.startedAt = previous.started_at;
  }

  private saveCheckpoint(): void {
    saveCheckpoint(this.s.out.path('checkpoints'), this.globalStep, this.checkpointContents(), this.s.job.checkpoint.keep);
  }

  optimizerState(): OptimizerState {
    return this.optimizer.saveState();
  }
}

/** An evaluation's figures from its shards; `attacks` names the job's evaluation attacks, whose figures the shards carry in that order. */
function sumEval(leaves: LeafStats[], attacks: readonly string[] = []): EvalSums {
  // Exact sums in shard order (float64), then divided once.
  let loss = 0;
  let correct = 0;
  let count = 0;
  let hasCorrect = true;
  for (const r of leaves) {
    loss += r.loss;
    count += r.count;
    if (r.correct === undefined) hasCorrect = false;
    else correct += r.correct;
  }
  const parts = leaves.map((l) => ({ count: l.count, normalizers: l.headNormalizers, headLosses: l.headLosses }));
  const sums: EvalSums = { loss: loss / meanDivisor(parts), accuracy: hasCorrect ? correct / count : null, count, headLosses: headMeans(parts) };
  // Out-of-bag shards are not attacked: figures only when every shard has them.
  if (attacks.length > 0 && count > 0 && leaves.every((l) => l.attacks?.length === attacks.length)) {
    sums.attacks = Object.fromEntries(
      attacks.map((name, a) => {
        let right = 0;
        let lossSum = 0;
        for (const l of leaves) {
          right += l.attacks![a]!.correct;
          lossSum += l.attacks![a]!.loss;
        }
        return [name, { accuracy: right / count, loss: lossSum / count }];
      }),
    );
  }
  return sums;
}

function scheduleConfig(job: JobConfig, totalSteps: number): LrScheduleConfig {
  const s = job.schedule;
  const warmup = s.warmup_steps > 0 ? { steps: s.warmup_steps } : undefined;
  switch (s.kind) {
    case 'constant':
      return { kind: 'constant', lr: job.optimizer.lr, warmup };
    case 'step':
      return { kind: 'step', lr: job.optimizer.lr, stepSize: s.step_size!, gamma: s.gamma, warmup };
    case 'cosine':
      return { kind: 'cosine', lr: job.optimizer.lr, totalSteps: Math.max(totalSteps, s.warmup_steps + 1), minLr: s.min_lr, warmup };
  }
}
