/** What the single-process trainer reports as it goes, and what it returns. */

/** Loss and accuracy over a data split, from exact sums divided once. */
export interface EvalMetrics {
  /** Mean loss per sample. */
  loss: number;
  /** Fraction of argmax(logits) == label; null for models without a cross-entropy head. */
  accuracy: number | null;
  count: number;
}

export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  steps: number;
  samples: number;
  /** Mean training loss per sample over the epoch (dropout on, parameters changing). */
  trainLoss: number;
  /** Training accuracy over the epoch under the same conditions; null without a cross-entropy head. */
  trainAccuracy: number | null;
  validation: EvalMetrics | null;
  /** Wall time of the epoch's training steps (evaluation excluded). */
  seconds: number;
  samplesPerSecond: number;
}

export type LocalTrainEvent =
  | {
      type: 'start';
      model: string;
      params: number;
      values: number;
      train: number;
      validation: number;
      test: number;
      stepsPerEpoch: number;
      epochs: number;
      batch: number;
      device: string;
    }
  | {
      type: 'step';
      epoch: number;
      /** 1-based, counted over the whole run. */
      step: number;
      stepInEpoch: number;
      stepsInEpoch: number;
      /** Mean loss per sample of this step's batch. */
      loss: number;
      lr: number;
      /** Global L2 norm of the mean gradient before clipping; null for a skipped step. */
      gradNorm: number | null;
      skipped: boolean;
    }
  | { type: 'epoch'; record: EpochRecord }
  /** Something the user should know, e.g. a CUDA device that fell back to the CPU. */
  | { type: 'warning'; message: string }
  | { type: 'test'; metrics: EvalMetrics };
