/**
 * The time-to-accuracy job every contender trains (FASHION_JOB), what a run to its target
 * reports, and what a contender is: shared by the section (time-to-accuracy.ts) and its
 * contenders (gradfleet-fashion.ts; PyTorch in time-to-accuracy.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from '../section.js';

/** A time-to-accuracy job: the data, the model's training settings and the target. */
export interface FashionJob {
  /** Folder of the four gzip IDX files. */
  dataDir: string;
  files: { trainImages: string; trainLabels: string; testImages: string; testLabels: string };
  globalBatch: number;
  /** Test accuracy that ends the run. */
  target: number;
  /** The run stops here when the target is not reached. */
  maxEpochs: number;
  /** Steps between evaluations of the 10,000 test images; null: at the end of every epoch. */
  evalEvery: number | null;
  optimizer: { kind: 'adamw'; lr: number; weightDecay: number };
  clipMaxNorm: number;
  /** Permutations, initialisation, dropout. */
  seed: number;
}

/**
 * The job every contender trains: all 60,000 training images (no validation split taken out),
 * evaluation on the 10,000 t10k images. The PyTorch side decays every parameter, biases included (torch.optim.AdamW over
 * model.parameters()), and keeps torch's default initialisation (not gradfleet's He/zero init):
 * a gradfleet job matching it sets `optimizer: { kind: adamw, lr, weight_decay, decay_biases:
 * true }`, `clip: { max_norm }`, `batch: { global }`, `eval: { every: epoch }` and a split with
 * no validation part.
 */
export const FASHION_JOB: FashionJob = {
  // Debian's dataset-fashion-mnist installs it here; GRADFLEET_FASHION_DIR names another folder.
  dataDir: process.env.GRADFLEET_FASHION_DIR ?? '/usr/share/datasets/fashion-mnist',
  files: {
    trainImages: 'train-images-idx3-ubyte.gz',
    trainLabels: 'train-labels-idx1-ubyte.gz',
    testImages: 't10k-images-idx3-ubyte.gz',
    testLabels: 't10k-labels-idx1-ubyte.gz',
  },
  globalBatch: 256,
  target: 0.88,
  maxEpochs: 30,
  evalEvery: null,
  optimizer: { kind: 'adamw', lr: 1e-3, weightDecay: 0.01 },
  clipMaxNorm: 1.0,
  seed: 0,
};

/** One evaluation during a run. */
export interface AccuracyPoint {
  step: number;
  /** Wall seconds since the first step when this evaluation started. */
  seconds: number;
  /** Training seconds up to this evaluation, earlier evaluations excluded. */
  trainSeconds: number;
  accuracy: number;
}

/** How a run to the target went. */
export interface TimeToAccuracy {
  reached: boolean;
  /** Wall seconds from the first step to the end of the last evaluation, evaluations included. */
  seconds: number;
  /** The same without the time spent evaluating. */
  trainSeconds: number;
  steps: number;
  /** Steps in epochs (fractional when evaluating mid-epoch). */
  epochs: number;
  finalAccuracy: number;
  curve: AccuracyPoint[];
}

/** Something that trains FASHION_JOB to its target: one row of the section. */
export interface TimeToAccuracyContender {
  label: string;
  /** Compute threads per process, for the table's threads column. */
  threads: number;
  run(ctx: BenchContext, job: FashionJob): Promise<TimeToAccuracy | { skipped: string }>;
}

/** The first dataset file of the job that does not exist, as a skip note; null when all do. */
export function missingDatasetNote(job: FashionJob): string | null {
  for (const name of Object.values(job.files)) {
    const path = join(job.dataDir, name);
    if (!existsSync(path)) return `skipped: Fashion-MNIST file ${path} not found; \`apt-get install dataset-fashion-mnist\` installs it`;
  }
  return null;
}

