/**
 * Time to accuracy on Fashion-MNIST: how long each contender takes to train the MLP
 * 784-256-128-10 (gradfleet's default, dropout 0.2) to 0.88 test accuracy on one job
 * (FASHION_JOB: same data, batch, optimizer, clipping, evaluation schedule). The PyTorch
 * contenders run bench/torch_fashion.py: one process at each of the bench's thread counts, and
 * torch DDP with 2 processes on loopback. One run each (a run lasts tens of seconds); the row is
 * the wall time, evaluations included, with the training time alone in the note. Skips with a
 * note when torch or the dataset is missing.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { probeTorch, runTorchScript, torchSkipNote } from '../python.js';
import type { BenchContext, BenchRow, BenchSection, BenchSettings, SectionResult } from '../section.js';

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
  dataDir: '/usr/share/datasets/fashion-mnist',
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

interface FashionLine {
  reached: boolean;
  seconds: number;
  train_seconds: number;
  load_seconds: number;
  steps: number;
  epochs: number;
  final_accuracy: number;
  curve: { step: number; seconds: number; train_seconds: number; accuracy: number }[];
  torch: string;
}

/** The first dataset file of the job that does not exist, as a skip note; null when all do. */
export function missingDatasetNote(job: FashionJob): string | null {
  for (const name of Object.values(job.files)) {
    const path = join(job.dataDir, name);
    if (!existsSync(path)) return `skipped: Fashion-MNIST file ${path} not found; \`apt-get install dataset-fashion-mnist\` installs it`;
  }
  return null;
}

/**
 * PyTorch trains `job` with torch_fashion.py: `world` 1 is a plain loop with `threads` torch
 * threads, more is DDP (gloo, loopback) with one thread per rank. `maxEpochs` overrides the job's
 * cap (a quick check of the script). `{ skipped }` when torch or the dataset is missing.
 */
export async function measureTorchTimeToAccuracy(
  job: FashionJob,
  opts: { world: number; threads: number; maxEpochs?: number },
): Promise<(TimeToAccuracy & { torch: string; loadSeconds: number }) | { skipped: string }> {
  const missing = missingDatasetNote(job);
  if (missing) return { skipped: missing };
  const probe = await probeTorch();
  if (!probe.ok) return { skipped: torchSkipNote(probe) };
  const maxEpochs = opts.maxEpochs ?? job.maxEpochs;
  const cfg = {
    world: opts.world,
    threads: opts.threads,
    global_batch: job.globalBatch,
    target: job.target,
    max_epochs: maxEpochs,
    eval_every: job.evalEvery,
    seed: job.seed,
    lr: job.optimizer.lr,
    weight_decay: job.optimizer.weightDecay,
    clip: job.clipMaxNorm,
    data_dir: job.dataDir,
    files: { train_images: job.files.trainImages, train_labels: job.files.trainLabels, test_images: job.files.testImages, test_labels: job.files.testLabels },
  };
  // An epoch takes a few seconds here; the allowance covers slow machines and start-up.
  const lines = await runTorchScript<FashionLine>(probe.python, 'torch_fashion.py', cfg, 120 + maxEpochs * 60);
  if (lines.length !== 1) throw new Error(`torch_fashion.py printed ${lines.length} result lines, expected 1`);
  const l = lines[0]!;
  return {
    reached: l.reached,
    seconds: l.seconds,
    trainSeconds: l.train_seconds,
    steps: l.steps,
    epochs: l.epochs,
    finalAccuracy: l.final_accuracy,
    curve: l.curve.map((p) => ({ step: p.step, seconds: p.seconds, trainSeconds: p.train_seconds, accuracy: p.accuracy })),
    torch: l.torch,
    loadSeconds: l.load_seconds,
  };
}

/** PyTorch in one process at each of the bench's thread counts, and torch DDP with 2 processes. */
export function torchContenders(settings: BenchSettings): TimeToAccuracyContender[] {
  const single = settings.threads.map((threads) => ({
    label: 'torch, 1 process',
    threads,
    run: (_ctx: BenchContext, job: FashionJob) => measureTorchTimeToAccuracy(job, { world: 1, threads }),
  }));
  const ddp = { label: 'torch DDP, 2 processes (gloo, loopback)', threads: 1, run: (_ctx: BenchContext, job: FashionJob) => measureTorchTimeToAccuracy(job, { world: 2, threads: 1 }) };
  return [...single, ddp];
}

/** Every contender, in table order. gradfleet's own cluster run on FASHION_JOB belongs in this list. */
export function timeToAccuracyContenders(settings: BenchSettings): TimeToAccuracyContender[] {
  return [...torchContenders(settings)];
}

function row(c: TimeToAccuracyContender, job: FashionJob, r: TimeToAccuracy): BenchRow {
  const where = `${r.finalAccuracy.toFixed(4)} at step ${r.steps} (epoch ${r.epochs})`;
  return {
    case: `${c.label}: seconds to test accuracy ${job.target}, batch ${job.globalBatch}`,
    threads: c.threads,
    value: r.seconds,
    unit: 's',
    note: r.reached
      ? `training alone ${r.trainSeconds.toFixed(1)} s; ${where}; ${r.curve.length} evaluation(s)`
      : `NOT reached: ${where}, stopped at the epoch cap after ${r.trainSeconds.toFixed(1)} s of training`,
  };
}

export const timeToAccuracySection: BenchSection = {
  id: 'fashion',
  title: `Time to ${FASHION_JOB.target} test accuracy on Fashion-MNIST (MLP 784-256-128-10 with dropout, AdamW lr ${FASHION_JOB.optimizer.lr} wd ${FASHION_JOB.optimizer.weightDecay}, clip ${FASHION_JOB.clipMaxNorm}, batch ${FASHION_JOB.globalBatch}, one run each)`,
  async run(ctx: BenchContext): Promise<SectionResult> {
    const job = FASHION_JOB;
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    for (const c of timeToAccuracyContenders(ctx.settings)) {
      ctx.log(`  ${c.label}, ${c.threads} thread(s), to ${job.target} (at most ${job.maxEpochs} epochs)...`);
      let r: Awaited<ReturnType<TimeToAccuracyContender['run']>>;
      try {
        r = await c.run(ctx, job);
      } catch (err) {
        notes.push(`${c.label}: failed: ${(err as Error).message}`);
        continue;
      }
      if ('skipped' in r) {
        if (!notes.includes(r.skipped)) notes.push(r.skipped);
        continue;
      }
      rows.push(row(c, job, r));
    }
    return { rows, notes };
  },
};
