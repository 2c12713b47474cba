/**
 * What a run records about itself as plain data: the JSON part of its checkpoints
 * (RunCheckpointMeta), its summary.json (RunSummary) and the summed metrics of one evaluation
 * (EvalSums). TrainingRun (training-run.ts) writes and reads them; resuming, the metrics rewind and
 * the default run directory read them without needing the run itself.
 */
import type { EarlyStoppingState } from './early-stopping.js';

/** What a checkpoint's JSON part holds (tensors: params, buffers, optimizer slots, best params/buffers). */
export interface RunCheckpointMeta {
  run: string;
  globalStep: number;
  epoch: number;
  stepInEpoch: number;
  version: number;
  stage: 'train' | 'final' | 'done' | 'failed';
  next: 'train' | 'validation' | 'test' | 'finish';
  stopReason: string;
  earlyStopping: EarlyStoppingState;
  bestStep: number | null;
  consecutiveSkips: number;
  skipped: number;
  lastValidation: EvalSums | null;
  bestValidation?: EvalSums | null;
  restoredBest?: boolean;
  /** Out-of-bag metrics once scored (bagging members; absent in checkpoints of plain runs). */
  outOfBag?: EvalSums | null;
  /** Test metrics once scored (absent in checkpoints written before they were kept). */
  test?: EvalSums | null;
  /** Training time up to this checkpoint, summed over coordinator lifetimes (absent in older checkpoints). */
  elapsedMs?: number;
  /** When the run started (ISO 8601; absent in older checkpoints). */
  startedAt?: string;
  epochLog: RunSummary['epoch_sample_counts'];
  optimizer: { kind: string; step: number; slots: { name: string; count: number }[] };
  counts: { params: number; buffers: number };
}

export interface EvalSums {
  loss: number;
  accuracy: number | null;
  count: number;
  headLosses: number[];
  /** Adversarial evaluation: accuracy and mean loss on each attack's adversarial examples ('fgsm', 'pgd'), at the job's ε. */
  attacks?: Record<string, { accuracy: number; loss: number }>;
}

export interface RunSummary {
  run: string;
  /** When the run started (ISO 8601), before any restart. */
  started_at: string;
  status: 'done' | 'failed';
  stop_reason: string;
  steps: number;
  epochs_completed: number;
  best_step: number | null;
  best_metric: number | null;
  monitor: string | null;
  /** Validation metrics of the final weights (the best evaluation's when they were restored). */
  final_validation: EvalSums | null;
  /** The last validation evaluation, of the weights before any restore. */
  last_validation: EvalSums | null;
  test: EvalSums | null;
  /** Bagging members only: metrics on the training samples the member's bootstrap never drew. */
  out_of_bag?: EvalSums | null;
  skipped_steps: number;
  /** Per epoch: how many training samples were used, and how many distinct ones. */
  epoch_sample_counts: { epoch: number; samples: number; distinct: number; expected: number }[];
  /**
   * Training time summed over coordinator lifetimes: each one counts up to the checkpoint the
   * next resumed from (work lost after it is redone, and counted once), the last one to the end.
   */
  wall_time_s: number;
  /** How many times a coordinator resumed this run from a checkpoint (its `resume` metric records). */
  resumes: number;
}
